"""The bot process: `python -m bot`."""

from __future__ import annotations

import asyncio
import logging
import sys

import discord

from bot.client import MixtapeBot
from mixtape.settings import get_settings

log = logging.getLogger("bot")


async def main() -> int:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.discord_token is None:
        log.error("DISCORD_TOKEN is not set; use `scripts/run` for the offline demo")
        return 2
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
        log.info("using the Discord API at %s", discord.http.Route.BASE)
    bot = MixtapeBot()
    async with bot:
        await bot.start(settings.discord_token.get_secret_value())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
