"""Stale-while-revalidate reads: a page draws from the last result at once and the next one is fetched
behind it, so no viewer waits on the catalog, Kafka or Trino for data a few seconds old.

Streamlit's ``st.cache_data`` makes the first viewer after each expiry wait for the whole read; with a
5-10 s TTL that is nearly every page load. Here a reader waits only for the first read of a key, or
when the cached result is older than ``max_stale_s`` (nobody has looked for a while). A background read
that fails drops the entry, so the next reader reads again and sees the error itself: a server that
went down is never hidden behind an old result. No Streamlit here: ``ui`` keeps one instance per read
for the server's lifetime.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    value: T
    loaded_at: float
    refreshing: bool = False


class Revalidating(Generic[K, T]):
    """``get(key)`` returns ``load(key)``'s last result, refreshed in the background once older than
    ``ttl_s``; read in the caller's thread when missing or older than ``max_stale_s``."""

    def __init__(
        self,
        load: Callable[[K], T],
        ttl_s: float,
        max_stale_s: float = 60.0,
        max_entries: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < ttl_s <= max_stale_s:
            raise ValueError("need 0 < ttl_s <= max_stale_s")
        self._load, self._ttl, self._max_stale, self._max_entries = load, ttl_s, max_stale_s, max_entries
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="revalidate")

    def get(self, key: K) -> T:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry.loaded_at <= self._max_stale:
                self._entries.move_to_end(key)
                if now - entry.loaded_at > self._ttl and not entry.refreshing:
                    entry.refreshing = True
                    self._pool.submit(self._refresh, key)
                return entry.value
        value = self._load(key)  # raises to the caller, who shows why
        self._store(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _refresh(self, key: K) -> None:
        try:
            value = self._load(key)
        except Exception:  # the next reader reads in its own thread and sees the error
            with self._lock:
                self._entries.pop(key, None)
            return
        self._store(key, value)

    def _store(self, key: K, value: T) -> None:
        with self._lock:
            self._entries[key] = _Entry(value, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
