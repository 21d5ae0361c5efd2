"""Every workflow the worker serves, declared on one client."""

from __future__ import annotations

from typing import Any

from hatchet_sdk import Hatchet
from hatchet_sdk.runnables.workflow import BaseWorkflow, Standalone

from mixtape.settings import Settings
from workflows.contracts import IMPORT_PLAYLIST, SHARE_PLAYLIST
from workflows.follow import build_fanout, build_follow_checks
from workflows.follow_report import build_follow_report
from workflows.import_playlist import build_import
from workflows.ledger_retention import build_ledger_retention
from workflows.share_playlist import build_share
from workflows.smoke import build_smoke


def _named(workflows: list[BaseWorkflow[Any]], name: str) -> Standalone[Any, Any]:
    """The task of `workflows` called `name` (names are namespaced, so match the end)."""
    [found] = [w for w in workflows if isinstance(w, Standalone) and w.name.endswith(name)]
    return found


def all_workflows(hatchet: Hatchet, settings: Settings) -> list[BaseWorkflow[Any]]:
    """Declare and return every workflow, in registration order."""
    importing = build_import(hatchet, settings)
    fanout = build_fanout(hatchet, _named(importing, IMPORT_PLAYLIST))
    report = build_follow_report(hatchet, settings)
    sharing = build_share(hatchet, settings, fanout, report)
    return [
        build_smoke(hatchet),
        *sharing,
        *importing,
        fanout,
        report,
        *build_follow_checks(hatchet, settings, _named(sharing, SHARE_PLAYLIST)),
        build_ledger_retention(hatchet, settings),
    ]
