"""API keys (SPEC section 7): made, checked, listed and revoked.

A secret reads `ads_<key id>_<random part>`. Only its SHA-256 is stored; the
key id inside it finds the record, and the hashes are compared in constant
time. The secret is shown once, when the key is made.
"""
