"""The bot process: `python -m bot`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import discord
import yarl
from discord.gateway import DiscordWebSocket
from pydantic import ValidationError

from bot.client import make_bot
from bot.services import ConfigurationError, open_services
from mixtape.log_redaction import configure_logging
from mixtape.settings import get_settings
from storage.crypto import TokenKeyError
from workflows.client import create_hatchet

log = logging.getLogger("bot")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals() -> None:
    """SIGTERM (docker stop) or SIGINT cancels the main task, so every `async with` closes
    what it opened: the gateway, the callback server, the database. Later signals are
    ignored, so a second one cannot cut that short."""
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None

    def stop(signum: signal.Signals) -> None:
        log.info("%s received: closing the gateway, the HTTP server and the database", signum.name)
        for each in STOP_SIGNALS:
            loop.add_signal_handler(each, lambda: None)
        main_task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)


async def main() -> int:
    """Read settings, build the services (migrating the database), run until stopped."""
    stop_on_signals()
    settings = get_settings()
    configure_logging(settings)
    if settings.discord_token is None:
        log.error("DISCORD_TOKEN is not set; use `scripts/run` for the offline demo")
        return 2
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
        log.info("using the Discord API at %s", discord.http.Route.BASE)
    if settings.discord_gateway_url:
        # discord.py connects to this class attribute, never asking /gateway/bot.
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
        log.info("using the Discord gateway at %s", settings.discord_gateway_url)
    try:
        async with open_services(settings, create_hatchet) as services:
            bot = make_bot(services)
            async with bot:
                await bot.start(settings.discord_token.get_secret_value())
    except asyncio.CancelledError:
        log.info("stopped")
        return 0
    except (ConfigurationError, TokenKeyError) as exc:
        log.error("%s", exc)
        return 2
    except ValidationError as exc:  # the Hatchet client's settings (HATCHET_CLIENT_*)
        log.error("Hatchet client settings are incomplete: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
