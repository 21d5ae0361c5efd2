"""Session-wide harness: the local stack (private PostgreSQL + pinned Hatchet engine),
real worker processes, and the contract check of the traffic with the fakes.

The stack starts lazily, only for tests that ask for it, unless the environment already
names one (HATCHET_CLIENT_TOKEN and MIXTAPE_TEST_PG_URL set by `python -m devtools.stack`).

Tests that run Mixtape's code against the fakes have what it sends and gets sampled
(`fakes.traffic`), and the session ends by judging that sample against the vendored OpenAPI
specs: a mismatch fails the run and is named in the summary.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from devtools.stack import running_stack
from devtools.worker_process import WorkerProcess
from fakes import traffic
from tests.contract.traffic import check_session_traffic

_STACK_KEYS = ("HATCHET_CLIENT_TOKEN", "MIXTAPE_TEST_PG_URL")


@pytest.fixture(scope="session")
def stack_session() -> Iterator[dict[str, str]]:
    """Client settings of a running stack (started here unless the environment names one),
    exported to this process's environment for the whole session."""
    if all(os.environ.get(key) for key in _STACK_KEYS):
        prefixes = ("HATCHET_", "MIXTAPE_")
        yield {key: value for key, value in os.environ.items() if key.startswith(prefixes)}
        return
    with running_stack() as info:
        env = info.client_env()
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def stack_env(stack_session: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The stack's client settings in a Hatchet namespace of this test's own.

    Workflow names, and so concurrency groups and run assignment, are per namespace: a run
    an earlier test left behind (its worker stopped mid-share) must not hold this test's
    share of "entry 1" in its concurrency group, nor be handed to this test's worker.
    """
    namespace = f"t{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("HATCHET_CLIENT_NAMESPACE", namespace)
    return {**stack_session, "HATCHET_CLIENT_NAMESPACE": namespace}


@pytest.fixture
def start_worker(
    stack_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes; all of them are stopped after the test.

    They share a database and its encryption key (a worker refuses keys that cannot read
    the tokens its database holds).
    """
    workers: list[WorkerProcess] = []
    defaults = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }

    def start(extra_env: dict[str, str] | None = None) -> WorkerProcess:
        env = {**os.environ, **defaults, **stack_env, **(extra_env or {})}
        worker = WorkerProcess(env=env, log_path=tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


# -- the `engine` marker says what a test needs ------------------------------------------

STACK_FIXTURE = "stack_session"  # stack_env, start_worker and bot_hatchet all lead here
_MARKER_PROBLEM = pytest.StashKey[str]()


def engine_marker_problem(item: pytest.Item) -> str | None:
    """What is wrong with `item`'s `engine` marker, if anything.

    A test that uses the session's stack (through any fixture) must be marked `engine` (or
    `postgres`, for the PostgreSQL cluster the stack also runs), so `-m "not engine"` never
    starts it; a test marked `engine` must use it, or say it starts a stack of its own with
    `engine(own_stack=True)`, so a test that needs no engine is not sorted with those that do.
    """
    uses = STACK_FIXTURE in getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("engine")
    if uses and marker is None and item.get_closest_marker("postgres") is None:
        return (
            f"{item.nodeid} uses the local stack (fixture {STACK_FIXTURE!r}, perhaps through "
            "stack_env or start_worker) but is not marked `engine`: add "
            "`@pytest.mark.engine` (or `pytestmark = pytest.mark.engine`)"
        )
    if marker is not None and not uses and not marker.kwargs.get("own_stack"):
        return (
            f"{item.nodeid} is marked `engine` but uses no stack fixture: drop the marker, or "
            "write `engine(own_stack=True)` if it starts a stack of its own"
        )
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if problem := engine_marker_problem(item):
            item.stash[_MARKER_PROBLEM] = problem


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A wrong marker fails the test before any fixture (and so the stack) is set up."""
    if problem := item.stash.get(_MARKER_PROBLEM, None):
        pytest.fail(problem, pytrace=False)


# -- the contract check of the traffic with the fakes -----------------------------------

TESTS_DIR = Path(__file__).parent
# Folders whose tests run Mixtape's own code (bot, worker, adapter, progress) against the
# fakes. The fakes' and contract tests are left out: they send malformed requests on purpose.
TRAFFIC_FOLDERS = ("bot", "e2e", "music", "workflows")
_HANDED_OVER = pytest.StashKey[Path]()
_VERDICT = pytest.StashKey[tuple[list[str], float]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """A folder where subprocesses (the bench, the demo) leave the traffic they sampled."""
    traffic.keep_in_this_process()
    folder = Path(tempfile.mkdtemp(prefix="mixtape-traffic-"))
    session.config.stash[_HANDED_OVER] = folder
    os.environ[traffic.TRAFFIC_DIR_ENV] = str(folder)  # read by fakes.traffic at import


@pytest.fixture(autouse=True)
def _sample_fake_traffic(request: pytest.FixtureRequest) -> Iterator[None]:
    """Sample the fakes' traffic during (and around) each test that runs Mixtape's code."""
    path = Path(request.node.path)
    folder = path.relative_to(TESTS_DIR).parts[0] if path.is_relative_to(TESTS_DIR) else ""
    traffic.SAMPLER.enabled = folder in TRAFFIC_FOLDERS
    traffic.SAMPLER.origin = request.node.nodeid
    yield
    traffic.SAMPLER.enabled = False


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Judge the sampled traffic; a mismatch (or a missing spec) fails the run."""
    folder = session.config.stash.get(_HANDED_OVER, None)
    if folder is None:
        return
    started = time.monotonic()
    try:
        report = check_session_traffic(traffic.SAMPLER, folder)
        failed = bool(report and report.mismatches)
        lines = report.lines() if report else []
    except FileNotFoundError as missing:
        failed, lines = True, [f"traffic not judged: {missing}"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if lines:
        session.config.stash[_VERDICT] = (lines, time.monotonic() - started)
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The verdict and what it cost, under a heading of its own."""
    verdict = terminalreporter.config.stash.get(_VERDICT, None)
    if verdict is None:
        return
    lines, seconds = verdict
    terminalreporter.write_sep(
        "=", f"traffic with the fakes vs. the OpenAPI specs ({seconds:.1f} s)"
    )
    for line in lines:
        terminalreporter.write_line(line)
