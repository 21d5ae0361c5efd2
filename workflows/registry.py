"""Every workflow the worker serves, declared on one client."""

from __future__ import annotations

from typing import Any

from hatchet_sdk import Hatchet
from hatchet_sdk.runnables.workflow import BaseWorkflow

from mixtape.settings import Settings
from workflows.import_playlist import build_import
from workflows.ledger_retention import build_ledger_retention
from workflows.share_playlist import build_share
from workflows.smoke import build_smoke


def all_workflows(hatchet: Hatchet, settings: Settings) -> list[BaseWorkflow[Any]]:
    """Declare and return every workflow, in registration order."""
    return [
        build_smoke(hatchet),
        *build_share(hatchet, settings),
        *build_import(hatchet, settings),
        build_ledger_retention(hatchet, settings),
    ]
