"""The SSE side of `backdrop bench --api`: many lean event-stream clients in one process.

Run as ``python -m bench.sse_clients`` with a JSON plan on stdin. It writes JSON lines to
stdout: ``{"connected": n}`` as streams open, ``{"ready": n}`` once every stream has received its replayed
first event (so the server has subscribed it to live updates), then one ``{"result": ...}`` at the end.
It is a separate process so its CPU is not the publisher's; it parses only what latency needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import orjson

# Streams opened at once: a thousand simultaneous connects would only queue in the listen backlog.
CONNECT_BATCH = 100


@dataclass
class StreamResult:
    """What one client saw: live events after the replay, their latencies, and anything odd."""

    delivered: int = 0
    duplicates: int = 0
    samples: list[tuple[str, float]] = field(default_factory=list)  # (event_id, latency in ms)
    error: str | None = None
    connected: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # streaming, or failed


def emit(message: dict[str, Any]) -> None:
    """One JSON line to the parent bench on stdout."""
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


def latency_ms(data: bytes, received: float) -> tuple[str, float]:
    """The event's id, and publish → receipt: the publish moment is its ``occurred_at`` (same clock)."""
    event = orjson.loads(data)
    occurred = datetime.fromisoformat(event["occurred_at"]).timestamp()
    return event["event_id"], round((received - occurred) * 1000.0, 3)


async def follow(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], result: StreamResult
) -> None:
    """Read one job's stream to its end; the first event is the replayed ``accepted``, not timed."""
    last_id = -1
    current_id = -1
    try:
        async with session.get(url, headers=headers) as response:
            if response.status != 200:
                result.error = f"HTTP {response.status}"
                return
            async for raw in response.content:
                # Only id: and data: lines matter; event names, pings and blank lines are skipped.
                if raw.startswith(b"id:"):
                    current_id = int(raw[3:])
                elif raw.startswith(b"data:"):
                    received = time.time()
                    if not result.connected:
                        result.connected = True
                        result.settled.set()
                    elif current_id <= last_id:
                        result.duplicates += 1
                    else:
                        result.delivered += 1
                        result.samples.append(latency_ms(raw[5:], received))
                    last_id = max(last_id, current_id)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.settled.set()


async def run(plan: dict[str, Any]) -> None:
    """Open every planned stream (in batches), report readiness, wait for all to end or the deadline."""
    headers = {"Authorization": f"Bearer {plan['key']}", "Accept": "text/event-stream"}
    jobs: list[str] = plan["streams"]
    results = [StreamResult() for _ in jobs]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: list[asyncio.Task[None]] = []
        for start in range(0, len(jobs), CONNECT_BATCH):
            batch = [
                asyncio.create_task(
                    follow(session, f"{plan['base_url']}/v1/jobs/{job}/events", headers, results[i])
                )
                for i, job in enumerate(jobs[start : start + CONNECT_BATCH], start)
            ]
            tasks += batch
            # The next batch starts once this one is streaming (or has failed).
            settled = (r.settled.wait() for r in results[start : start + len(batch)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*settled), timeout=plan["connect_timeout_s"])
            emit({"connected": sum(r.connected for r in results)})
        ready = sum(r.connected for r in results)
        emit({"ready": ready, "connect_s": round(time.monotonic() - started, 3)})
        _, pending = await asyncio.wait(tasks, timeout=plan["deadline_s"])
        for task in pending:
            task.cancel()
        for i in range(len(results)):
            if tasks[i] in pending and results[i].error is None:
                results[i].error = "still open at the deadline"
        await asyncio.gather(*pending, return_exceptions=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit(
        {
            "result": {
                "connected": sum(r.connected for r in results),
                "delivered": [r.delivered for r in results],
                "duplicates": sum(r.duplicates for r in results),
                "samples": [sample for r in results for sample in r.samples],
                "errors": [r.error for r in results if r.error is not None][:20],
                "error_count": sum(r.error is not None for r in results),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            }
        }
    )


def main() -> None:
    plan = orjson.loads(sys.stdin.buffer.read())
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; without it the default loop only costs more CPU
        asyncio.run(run(plan))
    else:
        uvloop.run(run(plan))


if __name__ == "__main__":
    main()
