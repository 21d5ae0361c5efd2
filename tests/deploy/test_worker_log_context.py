"""A worker's log lines name the run, and the import, they were logged in."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from hatchet_sdk.runnables.contextvars import ctx_additional_metadata, ctx_workflow_run_id

from workflows.__main__ import tag_log_lines


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        tag_log_lines()
        yield stream
    finally:
        root.handlers[:] = saved


def test_lines_in_a_task_name_the_run_and_the_import(root_stream: io.StringIO) -> None:
    log = logging.getLogger("workflows.import_playlist")
    log.warning("outside any task")
    run = ctx_workflow_run_id.set("0b9f-run")
    meta = ctx_additional_metadata.set({"import_id": "42", "guild_id": "7"})
    try:
        log.warning("adding a batch")
    finally:
        ctx_workflow_run_id.reset(run)
        ctx_additional_metadata.reset(meta)

    outside, inside = root_stream.getvalue().splitlines()
    assert "workflows.import_playlist: outside any task" in outside
    assert "workflows.import_playlist [run=0b9f-run import=42]: adding a batch" in inside
