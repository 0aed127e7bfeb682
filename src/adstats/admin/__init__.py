"""The operator's verbs: load the catalog, ingest, manage keys.

DuckDB lets one process write a database file. When nothing else has it open,
the command line does the work itself (LocalAdmin). When `adstats serve` holds
it, the command hands the same verbs to that server over loopback
(RemoteAdmin), authenticated by a token the server writes next to the database,
readable only by whoever may read the database itself.
"""
