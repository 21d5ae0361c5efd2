"""The `engine` marker and the stack fixtures must agree: tests/conftest.py fails a test,
before any fixture starts the stack, whose marker says otherwise than its fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from _pytest.mark.structures import Mark

from tests.conftest import engine_marker_problem


@dataclass
class Item:
    """What the check reads of a collected test."""

    fixturenames: tuple[str, ...]
    marks: dict[str, Mark] = field(default_factory=dict)
    nodeid: str = "tests/x.py::test_x"

    def get_closest_marker(self, name: str) -> Mark | None:
        return self.marks.get(name)


ENGINE = pytest.mark.engine.mark
OWN_STACK = pytest.mark.engine(own_stack=True).mark
POSTGRES = pytest.mark.postgres.mark
STACK = ("tmp_path", "stack_session", "stack_env", "start_worker")


@pytest.mark.parametrize(
    ("fixtures", "marks"),
    [
        (STACK, {"engine": ENGINE}),
        (STACK, {"postgres": POSTGRES}),  # the stack's PostgreSQL cluster only
        (STACK, {"engine": ENGINE, "postgres": POSTGRES}),
        (("tmp_path",), {"engine": OWN_STACK}),  # starts a stack of its own
        (("tmp_path",), {}),
    ],
)
def test_agreeing_marker_and_fixtures_pass(
    fixtures: tuple[str, ...], marks: dict[str, Mark]
) -> None:
    assert engine_marker_problem(Item(fixtures, marks)) is None  # type: ignore[arg-type]


def test_a_stack_fixture_without_the_marker_fails() -> None:
    problem = engine_marker_problem(Item(STACK))  # type: ignore[arg-type]
    assert problem is not None and "is not marked `engine`" in problem
    assert problem.startswith("tests/x.py::test_x")


def test_the_marker_without_a_stack_fixture_fails() -> None:
    problem = engine_marker_problem(Item(("tmp_path",), {"engine": ENGINE}))  # type: ignore[arg-type]
    assert problem is not None and "uses no stack fixture" in problem
