"""Transitional: the name bench/ still imports from here; the launcher is `devtools.worker_process`.

Delete this module once bench/ imports `devtools.worker_process` (tests/test_layout.py allows
it until then; .dockerignore keeps it out of the image).
"""

from devtools.worker_process import WorkerProcess

__all__ = ["WorkerProcess"]
