"""Per-key request rates: a token bucket for each key, in this process.

A key may make `burst` requests at once, then `rate` per second. The buckets
live in the server's memory: adstats serves a database from one process, so
this is the whole picture; several processes would each allow the full rate.
"""

import math
import threading
import time
from collections.abc import Callable

from adstats.errors import TooManyRequests


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key_id: str) -> None:
        """Spends one request of the key's allowance, or raises 429."""
        if self._rate <= 0:
            return
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - then) * self._rate)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                wait = math.ceil((1 - tokens) / self._rate)
                raise TooManyRequests(
                    f"over this key's rate of {self._rate:g} requests per second; "
                    f"retry after {wait} s",
                    retry_after=wait,
                )
            self._buckets[key_id] = (tokens - 1, now)
