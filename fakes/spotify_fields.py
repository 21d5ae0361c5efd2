"""Spotify's `fields=` filter, as the Web API spec describes it for the playlist reads.

"A comma-separated list of the fields to return. If omitted, all fields are returned. [...]
A dot separator can be used to specify non-reoccurring fields, while parentheses can be used
to specify reoccurring fields within objects [...] Use multiple parentheses to drill down
into nested objects [...] Fields can be excluded by prefixing them with an exclamation mark"
(`GET /playlists/{id}` and `GET /playlists/{id}/items`).

So `items(added_by.id,item(name,album(!images)))` keeps `items`, in each entry only
`added_by.id` and `item`'s `name` and `album`, and of `album` everything but `images`.
A group whose first field starts with `!` lists what to leave out. A selection applies to
each element of a list it meets. Names the answer lacks are simply absent, as on Spotify;
a `null` stays `null`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_]+")


class FieldsError(ValueError):
    """A `fields` value that does not parse (Spotify answers such a request 400)."""


@dataclass
class Selection:
    """What to keep of one object: `keep` maps a key to the selection below it (None: the
    whole value); with `exclude`, the keys listed are the ones left out."""

    keep: dict[str, Selection | None] = field(default_factory=dict)
    exclude: bool = False


def parse_fields(text: str) -> Selection:
    """The selection a `fields` value describes, or `FieldsError`."""
    parser = _Parser(text)
    selection = parser.group()
    if parser.at < len(text):
        raise FieldsError(f"unexpected {text[parser.at]!r} at {parser.at}")
    return selection


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def group(self) -> Selection:
        """field (',' field)*, up to a `)` or the end."""
        selection = Selection()
        first = True
        while True:
            negated = self._peek() == "!"
            if negated:
                self.at += 1
                if not first:
                    raise FieldsError("'!' may only open a group")
                selection.exclude = True
            self._field(selection)
            first = False
            if self._peek() != ",":
                return selection
            self.at += 1

    def _field(self, into: Selection) -> None:
        """name ('.' name)* ('(' group ')')?, merged into `into`."""
        path = [self._name()]
        while self._peek() == ".":
            self.at += 1
            path.append(self._name())
        below: Selection | None = None
        if self._peek() == "(":
            self.at += 1
            below = self.group()
            if self._peek() != ")":
                raise FieldsError(f"unclosed '(' before {self.at}")
            self.at += 1
        for name in reversed(path[1:]):
            below = Selection({name: below})
        _merge(into, path[0], below)

    def _name(self) -> str:
        match = _NAME.match(self.text, self.at)
        if match is None:
            raise FieldsError(f"a field name expected at {self.at}")
        self.at = match.end()
        return match.group()


def _merge(into: Selection, name: str, below: Selection | None) -> None:
    """`a.b,a.c` selects both under `a`; a bare `a` beside them keeps all of `a`."""
    if name not in into.keep:
        into.keep[name] = below
        return
    current = into.keep[name]
    if current is None or below is None:
        into.keep[name] = None
        return
    for key, sub in below.keep.items():
        _merge(current, key, sub)


def apply_fields(value: Any, selection: Selection | None) -> Any:
    """`value` cut down to `selection` (applied to each element of a list)."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [apply_fields(v, selection) for v in value]
    if not isinstance(value, dict):
        return value
    if selection.exclude:
        return {k: v for k, v in value.items() if k not in selection.keep}
    return {k: apply_fields(value[k], sub) for k, sub in selection.keep.items() if k in value}
