"""For teams downstream of ``backdrop.jobs``: its lifecycle events, typed, for aiokafka and Faust apps.

The types are ``schemas.lifecycle``'s own (``JobCompleted``, ``JobFailed`` …), so a consumer never keeps
a second copy of them. An event this version does not know (a later Backdrop may add types) or cannot
read decodes to ``None``: a consumer skips it and goes on, instead of stopping on its partition.
The Faust side is ``streams.faust_jobs``; this module imports no Faust.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from base.settings import Settings
from schemas import LifecycleEvent, parse_lifecycle
from streams.topics import JOBS

log = logging.getLogger("backdrop.jobs_feed")


def read_lifecycle(data: bytes | None) -> LifecycleEvent | None:
    """The typed event; None for a type this version does not know, or a record that is no event."""
    try:
        return parse_lifecycle(data or b"")
    except ValidationError as exc:
        if not any(error["type"] == "union_tag_invalid" for error in exc.errors()):  # not just a new type
            log.warning("skipping a record on %s that is no lifecycle event: %s", JOBS.name, exc)
        return None


def jobs_consumer(group_id: str, settings: Settings | None = None, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer of ``backdrop.jobs`` in ``group_id``: keys are job ids (str), values typed
    events or None. ``options`` go to AIOKafkaConsumer (``auto_offset_reset``, ``enable_auto_commit`` …)."""
    settings = settings or Settings()
    return AIOKafkaConsumer(
        JOBS.name,
        group_id=group_id,
        key_deserializer=lambda key: key.decode() if key is not None else None,
        value_deserializer=read_lifecycle,
        **settings.aiokafka_config,
        **options,
    )
