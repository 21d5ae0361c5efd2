"""Runtime configuration the bot and the worker share: settings (`mixtape.settings`),
secrets kept out of logs (`mixtape.log_redaction`) and the container health check
(`python -m mixtape.probe`). A member's Spotify calls live in `spotify_access`; development
tools in `devtools`; nothing here imports them, the fakes or the bench."""
