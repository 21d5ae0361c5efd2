"""The labels `/cancel` and `/retry` offer for an import stay within Discord's 100 characters.

A rendering check: it needs no engine, so it lives apart from the command tests in
`test_imports.py`, which dispatch to the real one.
"""

from __future__ import annotations

from storage.enums import ImportStatus
from storage.models import Import
from voice import replies as render


def test_import_choice_labels_stay_within_discords_limit() -> None:
    imp = Import(
        id=7,
        playlist_name="L" + "o" * 300,
        status=ImportStatus.PAUSED,
        total=1_000,
        added=10,
        already_present=2,
        not_found=0,
        failed=0,
        catalog_playlist_id=1,
    )

    mine = render.import_choice_name(imp)
    theirs = render.import_choice_name(imp, "N" * 200)

    assert mine.endswith("… · paused · 12/1000") and len(mine) == 100
    assert theirs.endswith(" · paused · 12/1000 · " + "N" * 29 + "…") and len(theirs) == 100
