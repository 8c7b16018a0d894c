"""The run-info record and the run status: one shape and one set of values wherever a run is read."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamflow.errors import InvalidArgumentError
from streamflow.run_info import ENDED, RUN_STATUSES, RunError, RunInfo, RunStatus, check_statuses

INFO = RunInfo(
    run_id="r",
    graph="g",
    status="failed",
    created_at=1.0,
    finished_at=2.0,
    last_seq=7,
    first_retained_seq=1,
    error=RunError(type="ValueError", message="boom"),
)


def test_the_statuses_are_the_literal_and_the_ended_ones_a_subset() -> None:
    assert RUN_STATUSES == get_args(RunStatus) == ("queued", "running", "finished", "failed", "cancelled")
    assert {"finished", "failed", "cancelled"} == ENDED


@given(st.lists(st.sampled_from(RUN_STATUSES)))
def test_check_statuses_keeps_what_was_asked_for(statuses: list[RunStatus]) -> None:
    assert check_statuses(statuses) == frozenset(statuses)


def test_check_statuses_names_what_is_allowed() -> None:
    assert check_statuses(None) is None
    statuses = check_statuses("queued")
    assert statuses is not None and set(statuses) == {"queued"}
    with pytest.raises(InvalidArgumentError, match=r"unknown run status \['sleeping'\]; allowed: queued, running"):
        check_statuses(["running", "sleeping"])


def test_the_json_form_has_the_outcome_only_when_asked() -> None:
    plain = INFO.to_dict()
    assert plain == {
        "run_id": "r",
        "graph": "g",
        "status": "failed",
        "created_at": 1.0,
        "finished_at": 2.0,
        "last_seq": 7,
        "first_retained_seq": 1,
        "subscribers": None,
    }
    assert INFO.to_dict(outcome=True) == {**plain, "error": {"type": "ValueError", "message": "boom"}}
    finished = RunInfo("r", "g", "finished", 1.0, 2.0, 7, 1, subscribers=0, output={"x": 1})
    assert finished.to_dict(outcome=True)["output"] == {"x": 1}
    assert "output" not in finished.to_dict()
