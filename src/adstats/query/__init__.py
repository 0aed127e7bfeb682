"""The query layer: API parameters in, ordered answer rows out.

It turns a request into StatsRequests for the store, fills in the rows the
SPEC promises even without data (zeros), names the ids from the catalog, and
derives the rates and the shown spent. Every statistics endpoint goes through
it, so two endpoints can never disagree on a number.
"""
