"""What a parent tells the member when a child task gave up."""

from __future__ import annotations

import logging

from hatchet_sdk import NonRetryableException
from hatchet_sdk.exceptions import FailedTaskRunExceptionGroup, TaskRunError

log = logging.getLogger(__name__)


def child_failure(exc: Exception, fallback: str) -> str:
    """The child's NonRetryableException message (written for the member), else `fallback`.

    Anything else means retries ran out on something we did not foresee: log it in full.
    """
    errors = exc.exceptions if isinstance(exc, FailedTaskRunExceptionGroup) else [exc]
    for error in errors:
        if isinstance(error, TaskRunError) and error.exc_type == NonRetryableException.__name__:
            return error.exc
    log.error("child task failed after its retries: %s", exc)
    return fallback
