"""pydantic still hands a ``Field``'s constraints over as the private general metadata that
``lakehouse/adapters/pydantic.py`` reads, and nothing else is taken for it (server-free)."""

from __future__ import annotations

from typing import Annotated

import annotated_types
from pydantic import BaseModel, Field

from lakehouse.adapters.pydantic import general_constraints


class Sample(BaseModel):
    text: Annotated[str, Field(pattern="^a$")]
    number: Annotated[float, Field(allow_inf_nan=False, ge=0)]


def test_a_fields_constraints_are_read_by_name() -> None:
    (text,) = Sample.model_fields["text"].metadata
    assert general_constraints(text) == {"pattern": "^a$"}
    found = [general_constraints(m) for m in Sample.model_fields["number"].metadata]
    assert {"allow_inf_nan": False} in found


def test_other_metadata_is_not_taken_for_constraints() -> None:
    assert general_constraints(annotated_types.Ge(0)) is None
    assert general_constraints(object()) is None
