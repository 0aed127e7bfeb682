"""The catalog's ids and names as Arrow arrays indexed by storage key.

Store batches carry storage keys; answers show ids and names. Dictionary
columns over these arrays name a whole column at once, without a lookup per
row, and the arrays are built once per catalog version, not per answer.
"""

import threading
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from adstats.storage.base import CatalogState


@dataclass(frozen=True)
class Vocabulary:
    ids: pa.Array  # storage key -> id (null for a key nothing has)
    names: pa.Array  # storage key -> name
    advertisers: pa.Array  # campaign's storage key -> its advertiser's key

    def id_column(self, keys: pa.Array) -> pa.DictionaryArray:
        """The ids of the keys; a null key (no content) gives a null id."""
        return pa.DictionaryArray.from_arrays(keys, self.ids)

    def name_column(self, keys: pa.Array) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(keys, self.names)

    def advertiser_keys(self, campaign_keys: pa.Array) -> pa.Array:
        return pc.take(self.advertisers, campaign_keys)

    def in_id_order(self, keys: pa.Array) -> pa.Array:
        """The keys, sorted by their ids: the order of answer rows."""
        return pc.take(keys, pc.sort_indices(pc.take(self.ids, keys)))


def build_vocabulary(state: CatalogState) -> Vocabulary:
    size = max(state.keys.values(), default=0) + 1
    ids: list[str | None] = [None] * size
    names: list[str | None] = [None] * size
    advertisers: list[int | None] = [None] * size
    for table in state.catalog.lists().values():
        for item_id, item in table.items():
            key = state.keys[item_id]
            ids[key], names[key] = item_id, item.name
    for campaign in state.catalog.campaigns.values():
        advertisers[state.keys[campaign.id]] = state.keys[campaign.advertiser_id]
    return Vocabulary(
        pa.array(ids, pa.string()),
        pa.array(names, pa.string()),
        pa.array(advertisers, pa.int32()),
    )


class VocabularyCache:
    """The vocabulary of the latest catalog state asked for. A state is never
    changed, only replaced, so the object itself tells the versions apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[CatalogState, Vocabulary] | None = None

    def of(self, state: CatalogState) -> Vocabulary:
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] is state:
            return kept[1]
        vocabulary = build_vocabulary(state)
        with self._lock:
            self._kept = (state, vocabulary)
        return vocabulary
