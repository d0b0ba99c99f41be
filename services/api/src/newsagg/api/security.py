"""Optional API keys: only their sha256 hashes are configured, so a leaked config leaks no key.

`NEWSAGG_API_KEYS` is either hashes separated by commas or `@/path/to/file` with one hash a
line (blank lines and `#` comments ignored). When there are none, the API is open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsagg.api.metrics import AUTH_FAILURES
from newsagg.api.problems import problem
from newsagg.core.settings import key_hashes
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_HEADER = "X-API-Key"
PROTECTED_PREFIX = "/v1"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (256 bits) and the hash to configure for it."""
    key = "nsg_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def load_key_hashes(spec: str) -> tuple[str, ...]:
    """Parse the setting; a bad file or line fails the start, never a request."""
    spec = spec.strip()
    if spec.startswith("@"):
        path = Path(spec[1:]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"NEWSAGG_API_KEYS: cannot read key file {path}: {exc}") from exc
        items = [line.split("#", 1)[0].strip() for line in lines]
        where = f"key file {path}"
    else:
        items = [part.strip() for part in spec.split(",")]
        where = "NEWSAGG_API_KEYS"
    return key_hashes(items, where)


@dataclass(frozen=True)
class ApiKeys:
    hashes: tuple[str, ...]

    @classmethod
    def from_setting(cls, spec: str) -> ApiKeys:
        return cls(load_key_hashes(spec))

    @property
    def enabled(self) -> bool:
        return bool(self.hashes)

    def identify(self, key: str | None) -> str | None:
        """The matching hash, or None; compares with every hash in constant time."""
        if not key:
            return None
        presented = hash_key(key)
        found = None
        for known in self.hashes:
            if hmac.compare_digest(presented, known):
                found = known
        return found


class ApiKeyMiddleware:
    """Checks X-API-Key on /v1 routes and leaves the key's hash in scope for the rate limit.

    `throttle` sees every refused request first (the rate limit of its client IP) and may
    answer it instead (429), so a client guessing keys is slowed like any other.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: ApiKeys,
        throttle: Callable[[Scope], Response | None] | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = _header(scope, API_KEY_HEADER.lower().encode())
        identity = self.keys.identify(key)
        if identity is None:
            refusal = self.throttle(scope) if self.throttle is not None else None
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            detail = (
                f"this API needs an API key in the {API_KEY_HEADER} header"
                if not key
                else "the API key is not valid"
            )
            AUTH_FAILURES.inc()
            response = problem(401, "Unauthorized", detail)
            response.headers["WWW-Authenticate"] = API_KEY_HEADER
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["api_key_hash"] = identity
        await self.app(scope, receive, send)


def is_protected(path: str) -> bool:
    """The API proper; probes, docs and the page need no key and have no limit."""
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None
