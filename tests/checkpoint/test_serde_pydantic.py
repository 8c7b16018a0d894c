"""JsonPlusSerializer stores pydantic (v2) models, nested ones too, as themselves."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streamflow.checkpoint.serde.jsonplus import JsonPlusSerializer
from tests.extras import require_extra

pydantic = require_extra("pydantic", "compare")


class Inner(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    n: int = 0


class Outer(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    name: str
    inner: Inner
    items: list[Inner] = pydantic.Field(default_factory=list)
    extra: dict[str, Any] = pydantic.Field(default_factory=dict)


SERDE = JsonPlusSerializer()


@given(st.text(), st.integers(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.integers()))
def test_a_pydantic_model_comes_back_as_itself(name: str, n: int, ns: list[int], extra: dict[str, int]) -> None:
    model = Outer(name=name, inner=Inner(n=n), items=[Inner(n=i) for i in ns], extra=extra)
    back = SERDE.loads_typed(SERDE.dumps_typed(model))
    assert back == model
    assert type(back) is Outer
    assert all(type(item) is Inner for item in back.items)
    assert back.model_fields_set == model.model_fields_set


def test_fields_left_to_their_defaults_stay_unset() -> None:
    back = SERDE.loads_typed(SERDE.dumps_typed(Outer(name="x", inner=Inner())))
    assert back.model_fields_set == {"name", "inner"}
    assert back.inner.model_fields_set == set()
