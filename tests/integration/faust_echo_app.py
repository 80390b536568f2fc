"""A minimal Faust app for the client test: every value on the source topic is echoed to the sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from streams.faust_jobs import faust_app

app = faust_app(os.environ["FAUST_ECHO_APP"], store="memory://", web_enabled=False)
source = app.topic(os.environ["FAUST_ECHO_SOURCE"], value_serializer="raw")
sink = app.topic(os.environ["FAUST_ECHO_SINK"], value_serializer="raw")


@app.agent(source)
async def echo(values: AsyncIterator[bytes]) -> None:
    async for value in values:
        await sink.send(value=b"echo:" + value)


if __name__ == "__main__":
    app.main()
