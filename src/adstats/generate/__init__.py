"""Demo data: a realistic catalog and the event traffic that goes with it, for
the demo command, the benchmarks and the tests."""
