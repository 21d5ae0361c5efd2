"""Guilds share the workers fairly: one guild's big import cannot starve another's small one.

A big import of songs without Spotify ids queues its searches (`import-resolve-track`) many
at a time. Unchecked they take every slot the moment one frees, and another guild's steps,
polled by the engine less eagerly, wait behind them for many seconds (measured: 26 s instead
of 1.6 s on two slots). Keyed by guild, the searches of one guild hold at most part of the
slots, and the engine admits the guilds' searches in turn (GROUP_ROUND_ROBIN).
"""

from __future__ import annotations

from hatchet_sdk import ConcurrencyExpression, ConcurrencyLimitStrategy

from mixtape.settings import Settings


def steps_per_guild(settings: Settings) -> int:
    """`IMPORT_STEPS_PER_GUILD`, by default half the worker's slots (at least one)."""
    return settings.import_steps_per_guild or max(1, settings.worker_slots // 2)


def per_guild(settings: Settings, field: str = "guild_id") -> ConcurrencyExpression:
    """At most `steps_per_guild` of one guild's runs of a task at once; guilds in turn."""
    return ConcurrencyExpression(
        expression=f"string(input.{field})",
        max_runs=steps_per_guild(settings),
        limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
    )
