"""The concepts of the product contract (SPEC.md), free of any storage or HTTP."""
