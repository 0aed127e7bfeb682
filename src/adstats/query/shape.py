"""Answer batches from store batches: ids and names for keys, then metrics.

Everything is done a column at a time (query.vocabulary, domain.metric_columns),
so the cost of a row is a few array operations shared by thousands of rows.
"""

from collections.abc import Sequence

import pyarrow as pa

from adstats.domain.metric_columns import metric_columns
from adstats.domain.metrics import CAMPAIGN_METRICS, ENTITY_METRICS
from adstats.query.vocabulary import Vocabulary


def campaign_batch(
    measures: pa.RecordBatch,
    vocabulary: Vocabulary,
    currency: str,
    dimensions: Sequence[str],
    header: Sequence[str],
) -> pa.RecordBatch:
    """A batch of /api/campaigns rows. dimensions: the store's dimension
    columns present, in order ("day"?, "campaign", then the breakdowns)."""
    columns: list[pa.Array] = []
    for dimension in dimensions:
        keys = measures.column(dimension)
        if dimension == "day":
            columns.append(keys)
        else:
            columns += [vocabulary.id_column(keys), vocabulary.name_column(keys)]
    advertisers = vocabulary.advertiser_keys(measures.column("campaign"))
    columns += [vocabulary.id_column(advertisers), vocabulary.name_column(advertisers)]
    columns += metric_columns(measures, CAMPAIGN_METRICS, currency)
    return pa.RecordBatch.from_arrays(columns, names=list(header))


def entity_batch(
    measures: pa.RecordBatch,
    vocabulary: Vocabulary,
    currency: str,
    dimension: str,
    header: Sequence[str],
) -> pa.RecordBatch:
    """A batch of /api/stats/{kind} rows for the entity `dimension`."""
    columns: list[pa.Array] = []
    if "day" in measures.schema.names:
        columns.append(measures.column("day"))
    keys = measures.column(dimension)
    columns += [vocabulary.id_column(keys), vocabulary.name_column(keys)]
    columns += metric_columns(measures, ENTITY_METRICS, currency)
    return pa.RecordBatch.from_arrays(columns, names=list(header))
