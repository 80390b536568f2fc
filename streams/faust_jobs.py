"""``backdrop.jobs`` for Faust apps: a codec that yields our typed lifecycle events, and the topic.

    app = faust_app("archive-outputs")

    @app.agent(jobs_topic(app))
    async def archive(events):
        async for event in events:
            if isinstance(event, JobCompleted):
                ...

The app reaches and authenticates to the broker from the same settings (``BACKDROP_KAFKA_*``) as
every Backdrop process. Faust keeps a topic of its own (``<app id>-__assignor-__leader``): the app's
principal needs leave to create it, or an operator creates it first.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.auth import SASLCredentials, SSLCredentials
from faust.serializers.codecs import Codec

from base.settings import Settings
from schemas import LifecycleEvent
from streams.codec import encode
from streams.jobs_feed import read_lifecycle
from streams.topics import JOBS


class LifecycleCodec(Codec):
    """Bytes on ``backdrop.jobs`` ↔ typed lifecycle events (None for a type this version does not know)."""

    def _loads(self, s: bytes) -> LifecycleEvent | None:
        return read_lifecycle(s)

    def _dumps(self, s: Any) -> bytes:
        return encode(s)


def faust_app(app_id: str, settings: Settings | None = None, **options: Any) -> faust.App:
    """A Faust app on the configured broker; ``options`` go to ``faust.App`` (``store``, ``web_port`` …)."""
    settings = settings or Settings()
    tls = settings.aiokafka_config.get("ssl_context")  # set for SSL and SASL_SSL
    if settings.kafka_security_protocol.startswith("SASL"):
        user, password = settings.kafka_credentials() or ("", "")
        options.setdefault(
            "broker_credentials",
            SASLCredentials(
                username=user, password=password, mechanism=settings.kafka_sasl_mechanism, ssl_context=tls
            ),
        )
    elif tls is not None:
        options.setdefault("broker_credentials", SSLCredentials(tls))
    return faust.App(app_id, broker=f"kafka://{settings.kafka_bootstrap}", **options)


def jobs_topic(app: faust.App) -> faust.TopicT:
    """``backdrop.jobs`` in ``app``: keys are job ids (bytes), values typed events or None."""
    return app.topic(JOBS.name, key_serializer="raw", value_serializer=LifecycleCodec())
