"""API keys: made once, shown once, stored as a SHA-256; each key signs its own webhooks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, func, insert, select, update

from api.tables import ApiKey
from api.webhook_signing import new_secret

KEY_PREFIX = "bd_"


@dataclass(frozen=True)
class NewKey:
    id: str
    name: str
    secret: str  # the bearer token; never stored
    webhook_secret: str


def hash_key(secret: str) -> bytes:
    """Keys carry 256 random bits, so a fast hash is enough: nobody can guess their way to a match."""
    return hashlib.sha256(secret.encode()).digest()


def new_key(name: str) -> NewKey:
    key_id = "key_" + secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{key_id.removeprefix('key_')}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id, name, secret, new_secret())


def create_key(conn: Connection, name: str, rate_limit_per_minute: int | None = None) -> NewKey:
    """Store a new key (hashed) and return it, the only time its secret is seen."""
    key = new_key(name)
    conn.execute(
        insert(ApiKey).values(
            id=key.id,
            name=name,
            key_hash=hash_key(key.secret),
            webhook_secret=key.webhook_secret,
            rate_limit_per_minute=rate_limit_per_minute,
        )
    )
    return key


def list_keys(conn: Connection) -> Sequence[Row[str, str, datetime, datetime | None]]:
    """Every key's id, name, created_at and revoked_at, oldest first (never the secrets)."""
    return conn.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.created_at, ApiKey.revoked_at).order_by(ApiKey.created_at)
    ).all()


def revoke_key(conn: Connection, key_id: str) -> bool:
    """Revoke an active key; False when there is none by that id."""
    revoked = conn.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    ).rowcount
    return bool(revoked)
