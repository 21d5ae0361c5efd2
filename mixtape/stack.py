"""Transitional: the names bench/ still imports from here; the local stack is `devtools.stack`.

Delete this module once bench/ imports `devtools.stack` (tests/test_layout.py allows it until
then; .dockerignore keeps it out of the image).
"""

from devtools.stack import REPO_ROOT, STACK_DIR, log, pinned_engine_tag, running_stack

__all__ = ["REPO_ROOT", "STACK_DIR", "log", "pinned_engine_tag", "running_stack"]
