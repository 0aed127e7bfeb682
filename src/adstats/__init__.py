"""adstats: exact, real-time, billing-grade campaign statistics for ad platforms."""

__version__ = "0.1.0"
NAME = "adstats"
