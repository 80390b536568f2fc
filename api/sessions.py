"""Browser sessions: the web app trades an API key for a cookie, so media elements and EventSource (which
cannot send an Authorization header) reach the API too.

The cookie holds a random token; Redis maps the token's hash to the key's hash for ``SESSION_TTL``. The key
itself is never stored, and a revoked key ends its sessions at once (the key is looked up on each request).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from redis.asyncio import Redis

COOKIE = "backdrop_session"
SESSION_TTL = timedelta(hours=12)
# Fetch metadata a browser attaches to every request; a cookie that arrives from another site's page is
# not honoured, whatever SameSite did (older browsers, same-site subdomains).
FOREIGN_SITES = frozenset({"cross-site", "same-site"})


def _redis_key(token: str) -> str:
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


async def open_session(redis: Redis, key_hash: bytes) -> str:
    """A new session for the key with this hash; returns the cookie's value."""
    token = secrets.token_urlsafe(32)
    await redis.set(_redis_key(token), key_hash.hex(), ex=SESSION_TTL)
    return token


async def session_key_hash(redis: Redis, token: str) -> bytes | None:
    """The hash of the key a live session belongs to, or None (expired, closed or made up)."""
    if not token or len(token) > 64:
        return None
    found = await redis.get(_redis_key(token))
    if found is None:
        return None
    return bytes.fromhex(found.decode() if isinstance(found, bytes) else found)


async def close_session(redis: Redis, token: str) -> None:
    await redis.delete(_redis_key(token))
