"""A member's Spotify, as Mixtape reaches it: their grant (tokens decrypted, refreshed when
due, dropped when Spotify revokes them), calls made as that member through the adapter in
`music`, and the app-wide Retry-After gate every process honours before calling.

Runtime, used by the bot and the worker alike; it sits between `music` (the adapter, which
knows nothing of members) and `storage` (where grants and gates are kept).
"""
