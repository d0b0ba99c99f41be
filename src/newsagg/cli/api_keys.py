"""`newsagg api-key`: a new random API key and the hash to configure for it."""

from __future__ import annotations

from newsagg.api.security import new_key


def run_api_key() -> int:
    key, digest = new_key()
    print(f"key:  {key}")
    print(f"hash: {digest}")
    print(
        "Give the key to the API consumer (header X-API-Key); add only the hash to "
        "NEWSAGG_API_KEYS or the key file."
    )
    return 0
