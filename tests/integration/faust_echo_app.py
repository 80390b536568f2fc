"""A minimal Faust app for the client test: every value on the source topic is echoed to the sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import faust
from faust.auth import SASLCredentials

from base.settings import Settings

settings = Settings()
credentials = settings.kafka_credentials()
app = faust.App(
    os.environ["FAUST_ECHO_APP"],
    broker=f"kafka://{settings.kafka_bootstrap}",
    broker_credentials=SASLCredentials(
        username=credentials[0], password=credentials[1], mechanism=settings.kafka_sasl_mechanism
    )
    if credentials
    else None,
    store="memory://",
    web_enabled=False,
    topic_replication_factor=1,
)
source = app.topic(os.environ["FAUST_ECHO_SOURCE"], value_serializer="raw")
sink = app.topic(os.environ["FAUST_ECHO_SINK"], value_serializer="raw")


@app.agent(source)
async def echo(values: AsyncIterator[bytes]) -> None:
    async for value in values:
        await sink.send(value=b"echo:" + value)


if __name__ == "__main__":
    app.main()
