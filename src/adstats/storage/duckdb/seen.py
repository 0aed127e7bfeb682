"""Which key hashes might already be stored: a Bloom filter in memory.

Deduplication is exact: a key counts as seen only when the stored keys hold
it. But reading every stored key for every batch would cost a second a batch
at 100 million events, so this filter answers first. It never says "no" for
a stored key, and says "maybe" for about one new key in five hundred; only
the maybes are looked up in the stored keys, a lookup DuckDB does with a hash
table of those few.

Blocked layout: all of a key's bits sit in one 64-bit word, so a lookup
touches one cache line rather than one per bit. The words are indexed by the
hash's high half and the bits drawn from its low half; both halves come from
MD5, so they are independent. Bits set by a batch whose transaction then
failed only add maybes, never wrong answers.
"""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

Hashes = npt.NDArray[np.uint64]

BITS_PER_KEY = 16
_BITS_PER_WORD_KEY = 6  # bits set per key, within its word
_BIT_INDEX = np.uint64(63)
_SHIFT = np.uint64(6)
_ONE = np.uint64(1)
_MIN_CAPACITY = 1 << 20


class KeyFilter:
    """A Bloom filter sized for `capacity` keys; `full` once past it, when the
    owner rebuilds a bigger one from the stored keys."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(_MIN_CAPACITY, capacity)
        self.count = 0
        self._words = np.zeros(self.capacity * BITS_PER_KEY // 64, np.uint64)

    @classmethod
    def of(cls, stored: int, halves: Iterable[tuple[Hashes, Hashes]]) -> "KeyFilter":
        """A filter holding the given hashes, with room for half as many again
        (memory is 16 to 24 bits a stored key)."""
        made = cls(stored * 3 // 2)
        for high, low in halves:
            made.add(high, low)
        return made

    @property
    def full(self) -> bool:
        return self.count > self.capacity

    @property
    def size_bytes(self) -> int:
        return int(self._words.nbytes)

    def might_hold(self, high: Hashes, low: Hashes) -> npt.NDArray[np.bool_]:
        index, mask = self._places(high, low)
        return (self._words[index] & mask) == mask  # type: ignore[no-any-return]

    def add(self, high: Hashes, low: Hashes) -> None:
        index, mask = self._places(high, low)
        np.bitwise_or.at(self._words, index, mask)
        self.count += len(high)

    def _places(self, high: Hashes, low: Hashes) -> tuple[Hashes, Hashes]:
        index = high % np.uint64(len(self._words))
        mask = np.zeros(len(low), np.uint64)
        bits = low.copy()
        for _ in range(_BITS_PER_WORD_KEY):
            mask |= _ONE << (bits & _BIT_INDEX)
            bits >>= _SHIFT
        return index, mask
