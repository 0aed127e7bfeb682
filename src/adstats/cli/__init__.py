"""The `adstats` command: one module per subcommand."""
