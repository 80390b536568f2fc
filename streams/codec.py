"""The one place events become bytes and bytes become events (orjson out, pydantic-core in)."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from streams.errors import PoisonMessage

T = TypeVar("T")

# Enough of the bad payload to recognise it in a log line; the whole of it travels on the exception.
_PREVIEW_BYTES = 200


def encode(model: BaseModel) -> bytes:
    """Compact JSON bytes of ``model``, by alias, so ``decode`` reads them back whatever the config."""
    return orjson.dumps(model.model_dump(mode="json", by_alias=True))


def decode(data: bytes | None, adapter: TypeAdapter[T]) -> T:
    """Parse and validate an event; anything unreadable raises ``PoisonMessage`` carrying the bytes."""
    if data is None:
        raise PoisonMessage("the record has no value (a tombstone): nothing to process", data)
    try:
        # Validating the JSON text directly (not orjson.loads first) applies JSON-mode rules, the
        # inverse of model_dump(mode="json"): a strict datetime field accepts its ISO string.
        return adapter.validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors(include_url=False)[:5]
        )
        preview = data[:_PREVIEW_BYTES].decode("utf-8", errors="replace")
        raise PoisonMessage(
            f"the event does not parse ({problems}); it starts {preview!r}",
            data,
        ) from exc
