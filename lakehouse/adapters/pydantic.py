"""pydantic's one seam: the one private name of pydantic the contract's reader relies on.

A field's ``Field(pattern=..., allow_inf_nan=...)`` reaches its metadata as an instance of pydantic's
private ``_PydanticGeneralMetadata`` (made by ``pydantic._internal._fields._general_metadata_cls``), whose
attributes are the constraints. :mod:`lakehouse.derive` must tell it from every other metadata to know
what a field accepts. pydantic is pinned in pyproject; ``tests/lakehouse/adapters/test_pydantic_hooks.py``
checks that pydantic still hands constraints over this way.
"""

from __future__ import annotations

from typing import Any

from pydantic._internal._fields import _general_metadata_cls


def general_constraints(metadata: object) -> dict[str, Any] | None:
    """The constraints a ``Field(...)`` put into ``metadata`` by name, or None for any other metadata."""
    if isinstance(metadata, _general_metadata_cls()):
        return dict(vars(metadata))
    return None
