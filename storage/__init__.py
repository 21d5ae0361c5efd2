"""Persistence for Mixtape: models, migrations and intent-named repository functions.

Callers own transactions (`async with sessionmaker.begin() as session:`) and pass the
session to functions in `accounts`, `oauth_states`, `catalog`, `imports` and `matches`.
"""
