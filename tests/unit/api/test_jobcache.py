from __future__ import annotations

import pytest

from api.jobcache import JobCache


def test_an_entry_serves_its_owner_until_it_expires() -> None:
    cache = JobCache(ttl_s=2.0)
    cache.put("job_a", "key_1", b"{}", cache.generation, now=10.0)
    assert cache.get("job_a", "key_1", now=11.0) == b"{}"
    assert cache.get("job_a", "key_2", now=11.0) is None  # another key never sees it
    assert cache.get("job_a", "key_1", now=12.5) is None


def test_an_event_drops_the_entry() -> None:
    cache = JobCache()
    cache.put("job_a", "key_1", b"old", cache.generation)
    cache.invalidate("job_a")
    assert cache.get("job_a", "key_1") is None


def test_a_read_that_raced_with_a_change_is_not_kept() -> None:
    cache = JobCache()
    began = cache.generation
    cache.invalidate("job_a")  # the job changed while its row was being read
    cache.put("job_a", "key_1", b"stale", began)
    assert cache.get("job_a", "key_1") is None
    cache.invalidate("job_b")  # another job's change does not matter
    began = cache.generation
    cache.put("job_a", "key_1", b"fresh", began)
    assert cache.get("job_a", "key_1") == b"fresh"


def test_clear_forgets_everything_and_refuses_reads_from_before() -> None:
    cache = JobCache()
    began = cache.generation
    cache.put("job_a", "key_1", b"x", began)
    cache.clear()
    assert cache.get("job_a", "key_1") is None
    cache.put("job_b", "key_1", b"y", began)
    assert cache.get("job_b", "key_1") is None


def test_a_read_after_the_change_is_kept() -> None:
    cache = JobCache()
    cache.invalidate("job_a")
    cache.put("job_a", "key_1", b"new", cache.generation)
    assert cache.get("job_a", "key_1") == b"new"
    cache.clear()
    cache.put("job_a", "key_1", b"newer", cache.generation)
    assert cache.get("job_a", "key_1") == b"newer"


def test_entries_live_15_to_30_s_spread_so_they_never_expire_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # README: "entries live 15–30 s as a backstop, spread so they never expire together"
    cache = JobCache()
    for draw, job in ((0.0, "job_low"), (0.999, "job_high"), (0.5, "job_mid")):
        monkeypatch.setattr("api.jobcache.random.random", lambda draw=draw: draw)
        cache.put(job, "key_1", b"{}", cache.generation, now=0.0)
    assert cache.get("job_low", "key_1", now=14.9) == b"{}"
    assert cache.get("job_low", "key_1", now=15.1) is None
    assert cache.get("job_mid", "key_1", now=22.4) == b"{}"
    assert cache.get("job_mid", "key_1", now=22.6) is None
    assert cache.get("job_high", "key_1", now=29.9) == b"{}"
    assert cache.get("job_high", "key_1", now=30.1) is None
