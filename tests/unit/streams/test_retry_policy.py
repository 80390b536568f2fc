from __future__ import annotations

import asyncio

import pytest

from streams.delivery import RetryPolicy, retry, retry_async
from streams.errors import PoisonMessage, RetryableError


def test_delay_doubles_then_caps_without_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0, jitter=0.0)
    assert [policy.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_only_shortens_the_delay() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, jitter=0.25)
    assert policy.delay(3, rand=lambda: 0.0) == 4.0
    assert policy.delay(3, rand=lambda: 1.0) == 3.0


def test_a_huge_attempt_number_stays_capped() -> None:
    assert RetryPolicy(jitter=0.0).delay(5000) == 30.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay_s": -1.0}, {"base_delay_s": 5.0, "max_delay_s": 1.0}, {"jitter": 1.5}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need|fraction"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_retry_backs_off_then_succeeds() -> None:
    slept: list[float] = []
    action = Flaky(2, RetryableError("store busy"))
    policy = RetryPolicy(base_delay_s=0.1, jitter=0.0)
    assert retry(action, policy, sleep=slept.append) == "done"
    assert slept == [0.1, 0.2]
    assert action.calls == 3


def test_retry_gives_up_after_max_attempts() -> None:
    slept: list[float] = []
    action = Flaky(10, RetryableError("store down"))
    with pytest.raises(RetryableError, match="store down"):
        retry(action, RetryPolicy(max_attempts=3, jitter=0.0), sleep=slept.append)
    assert action.calls == 3
    assert len(slept) == 2


def test_poison_is_never_retried() -> None:
    action = Flaky(1, PoisonMessage("bad event", b"x"))
    with pytest.raises(PoisonMessage):
        retry(action, RetryPolicy(), sleep=lambda _: pytest.fail("slept before a poison message"))
    assert action.calls == 1


def test_retry_async_awaits_its_sleep() -> None:
    slept: list[float] = []
    flaky = Flaky(1, RetryableError("broker busy"))

    async def action() -> str:
        return flaky()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    result = asyncio.run(retry_async(action, RetryPolicy(base_delay_s=0.25, jitter=0.0), sleep=sleep))
    assert result == "done"
    assert slept == [0.25]
