"""The dashboard's stale-while-revalidate reads: who waits, what is served, and that an error is never
hidden behind an old result."""

from __future__ import annotations

import threading

import pytest

from dashboard.revalidate import Revalidating


class Source:
    """A read whose result, failure and speed the test controls; counts calls and their threads."""

    def __init__(self) -> None:
        self.value, self.calls, self.fail = 0, 0, False
        self.threads: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, key: str) -> str:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        self.release.wait(5)
        if self.fail:
            raise ConnectionError("the server is down")
        return f"{key}={self.value}"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settle(cache: Revalidating[str, str]) -> None:
    """Wait for background refreshes already started: one task per worker meeting at a barrier, so
    every worker has finished what was queued before (two plain no-op tasks could both run on an idle
    worker while the other still refreshes: CI on a loaded machine did that)."""
    workers = cache._pool._max_workers
    barrier = threading.Barrier(workers)
    for done in [cache._pool.submit(barrier.wait, 5) for _ in range(workers)]:
        done.result(10)


def make(source: Source, clock: Clock, **kw: float) -> Revalidating[str, str]:
    return Revalidating(source, ttl_s=5, max_stale_s=60, clock=clock, **kw)  # type: ignore[arg-type]


def test_the_first_read_waits_and_later_ones_are_served_from_memory() -> None:
    source, clock = Source(), Clock()
    cache = make(source, clock)
    assert cache.get("a") == "a=0"
    source.value = 1
    clock.now = 4.9
    assert cache.get("a") == "a=0"
    assert source.calls == 1


def test_an_expired_result_is_served_at_once_and_refreshed_behind_it() -> None:
    source, clock = Source(), Clock()
    cache = make(source, clock)
    cache.get("a")
    source.value, clock.now = 1, 6.0
    source.release.clear()  # the refresh hangs: the reader must not wait for it
    assert cache.get("a") == "a=0"
    assert cache.get("a") == "a=0", "one refresh at a time"
    source.release.set()
    settle(cache)
    assert cache.get("a") == "a=1"
    assert source.calls == 2 and source.threads[1].startswith("revalidate")


def test_a_result_nobody_looked_at_for_a_while_is_read_again_by_the_reader() -> None:
    source, clock = Source(), Clock()
    cache = make(source, clock)
    cache.get("a")
    source.value, clock.now = 1, 61.0
    assert cache.get("a") == "a=1"
    assert source.threads[1] == threading.current_thread().name


def test_a_failed_refresh_is_not_hidden_behind_the_old_result() -> None:
    source, clock = Source(), Clock()
    cache = make(source, clock)
    cache.get("a")
    source.fail, clock.now = True, 6.0
    assert cache.get("a") == "a=0"  # served while the refresh runs
    settle(cache)
    with pytest.raises(ConnectionError, match="down"):
        cache.get("a")
    source.fail = False
    assert cache.get("a") == "a=0"


def test_a_first_read_that_fails_raises_to_the_reader() -> None:
    source = Source()
    source.fail = True
    with pytest.raises(ConnectionError):
        make(source, Clock()).get("a")


def test_keys_are_bounded_oldest_use_first() -> None:
    source, clock = Source(), Clock()
    cache = make(source, clock, max_entries=2)
    cache.get("a"), cache.get("b"), cache.get("a"), cache.get("c")
    calls = source.calls
    cache.get("a"), cache.get("c")
    assert source.calls == calls
    cache.get("b")
    assert source.calls == calls + 1


def test_the_ttl_must_fit_in_the_staleness_bound() -> None:
    with pytest.raises(ValueError):
        Revalidating(str, ttl_s=10, max_stale_s=5)
