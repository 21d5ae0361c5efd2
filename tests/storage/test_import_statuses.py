"""The statuses of a list of imports, as the follow report reads them."""

from __future__ import annotations

from storage.enums import ImportStatus
from storage.imports import finish_import, import_statuses, start_import
from tests.storage.test_imports import OTHER_USER, USER, Sessions, _new_import, _ready_playlist


async def test_statuses_of_the_imports_asked_for_and_none_of_others(sessions: Sessions) -> None:
    playlist_id = await _ready_playlist(sessions)
    done = await _new_import(sessions, playlist_id, USER)
    running = await _new_import(sessions, playlist_id, OTHER_USER)
    other = await _new_import(sessions, playlist_id, 400_000_000_000_000_003)
    async with sessions.begin() as session:
        await start_import(session, done.id)
        await finish_import(session, done.id, ImportStatus.COMPLETED)
        await start_import(session, running.id)

    async with sessions.begin() as session:
        found = await import_statuses(session, [done.id, running.id, running.id, 999_999])
        none = await import_statuses(session, [])
        many = await import_statuses(session, [*range(10**6, 10**6 + 1_200), running.id])

    assert found == {done.id: ImportStatus.COMPLETED, running.id: ImportStatus.RUNNING}
    assert other.id not in found and none == {}
    assert many == {running.id: ImportStatus.RUNNING}  # asked for in several queries
