"""Runtime services the bot and the worker share: settings (`mixtape.settings`), secrets kept
out of logs (`mixtape.log_redaction`), a member's Spotify calls behind the app-wide 429 gate
(`mixtape.spotify_tokens`) and the container health check (`python -m mixtape.probe`).
Development tools live in `devtools`; nothing here imports them, the fakes or the bench."""
