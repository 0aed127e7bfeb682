"""Helpers shared by the domain-level tests: a real in-process adstats on a
DuckDB file (world) and an independent model of SPEC sections 2-5 (model)."""
