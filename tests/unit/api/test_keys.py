"""API keys: recognisable prefix, unique, and stored only as the SHA-256 of the secret."""

from __future__ import annotations

import hashlib
import re

from api.keys import KEY_PREFIX, hash_key, new_key


def test_a_key_carries_its_id_and_enough_randomness() -> None:
    key = new_key("ci")
    assert key.name == "ci"
    assert re.fullmatch(r"key_[0-9a-f]{12}", key.id)
    assert key.secret.startswith(f"{KEY_PREFIX}{key.id.removeprefix('key_')}_")
    assert len(key.secret) == len(KEY_PREFIX) + 12 + 1 + 43  # token_urlsafe(32): 256 random bits


def test_keys_are_unique() -> None:
    keys = [new_key("ci") for _ in range(100)]
    assert (
        len({k.id for k in keys})
        == len({k.secret for k in keys})
        == len({k.webhook_secret for k in keys})
        == 100
    )


def test_the_stored_hash_is_the_secrets_sha256() -> None:
    key = new_key("ci")
    assert hash_key(key.secret) == hashlib.sha256(key.secret.encode()).digest()
    assert hash_key(key.secret) != hash_key(new_key("ci").secret)
    assert key.secret.encode() not in hash_key(key.secret)
