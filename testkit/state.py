"""A dict as Quix's State behaves for one zone (values serialised when set, with orjson), so the
stateful steps run in-process; it counts the bytes written."""

from __future__ import annotations

from typing import Any

import orjson


class DictState:
    """One zone's slice of the store, as Quix's State behaves: values serialised when set (orjson)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.written = 0

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self.data.get(key)
        return default if raw is None else orjson.loads(raw)

    def set(self, key: Any, value: Any) -> None:
        raw = orjson.dumps(value)
        self.written += len(raw)
        self.data[key] = raw

    def delete(self, key: Any) -> None:
        self.data.pop(key, None)
