"""Moved to `voice.replies` (issue 13): this name stays only until the follow feature's
modules import from there; it holds nothing of its own."""

from voice.replies import *  # noqa: F403
from voice.replies import playlist_title as playlist_title
