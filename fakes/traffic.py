"""A bounded sample of the HTTP exchanges the fakes answer, kept to check against the specs.

Both fakes offer every exchange they answer to `SAMPLER`. It keeps the first exchange of
each shape (service, route, status, the JSON structure of both bodies) and only counts the
rest, so a long run holds a few hundred bodies rather than every page of every import.
Working out a shape means walking the body (a page of 50 Spotify items is 200 kB), so after
the first `ALWAYS` exchanges of a route and status only one in `THEN_ONE_IN` is looked at;
query strings are cheap and each distinct one is kept. The sampler is off unless switched
on: the fakes' own tests send malformed requests on purpose, and only clients' traffic is
judged (`tests/contract/traffic.py` does the judging).

A process whose environment names `$MIXTAPE_TRAFFIC_DIR` when this module is first imported
(a bench or demo subprocess of a test run) records everything it serves and writes its
sample there as JSON at exit, where the test session reads it.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

TRAFFIC_DIR_ENV = "MIXTAPE_TRAFFIC_DIR"
MAX_SAMPLES = 2000  # distinct body shapes kept; the rest are only counted
MAX_QUERIES = 5000  # distinct query strings kept
ALWAYS = 50  # exchanges of each route and status whose shape is always worked out
THEN_ONE_IN = 10  # and after those, one in this many


@dataclass(frozen=True)
class Exchange:
    """One request a fake answered and its answer, with JSON bodies parsed (None if none).

    `path` is as requested (`/api/v10/...`, `/v1/...`); `route` is the fake's own name for
    it; `origin` says which test (or subprocess) caused it.
    """

    service: str  # "discord" or "spotify"
    method: str
    path: str
    route: str
    query: Mapping[str, str]
    request: Any
    request_type: str  # the request's media type ("" without a body)
    status: int
    response: Any
    response_type: str  # the answer's media type ("" without a body)
    origin: str = ""


@dataclass
class Sample:
    """The first exchange of a shape and how many exchanges had that shape."""

    exchange: Exchange
    seen: int = 1


def shape(value: Any) -> Hashable:
    """The JSON structure of `value`: keys and value types, list items merged.

    Values are dropped, except those of `type` keys, which both APIs use to say which
    variant an object is (a Spotify track or episode, a Discord callback type). Frozensets
    keep their hash, so a deep shape is hashed once.
    """
    if isinstance(value, dict):
        return frozenset(
            [(k, v if k == "type" and not isinstance(v, dict | list) else shape(v))
             for k, v in value.items()]
        )  # fmt: skip
    if isinstance(value, list):
        return ("[]", frozenset(map(shape, value)))
    if isinstance(value, str):
        return "s" if value else "s0"
    if value is None or isinstance(value, bool):
        return value
    return type(value).__name__


Bodies = Callable[[], tuple[Any, Any]]


@dataclass
class TrafficSampler:
    """Thread-safe: the fakes offer from their server threads while tests read."""

    enabled: bool = False
    origin: str = ""
    max_samples: int = MAX_SAMPLES
    max_queries: int = MAX_QUERIES
    offered: int = 0
    shaped: int = 0  # exchanges whose bodies were looked at
    seconds: float = 0.0  # spent parsing and shaping them, on the fakes' threads
    unsampled: int = 0  # exchanges of a new shape or query that arrived after a cap
    _samples: dict[Hashable, Sample] = field(default_factory=dict)
    _queries: dict[Hashable, Sample] = field(default_factory=dict)
    _per_route: Counter[Hashable] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, head: Exchange, bodies: Bodies) -> None:
        """Count an exchange; keep its query if new, and its bodies if their shape is.

        `head` comes without bodies; `bodies()` parses them (request, response), and is
        only called for the exchanges whose shape is worked out.
        """
        if not self.enabled:
            return
        head = replace(head, origin=head.origin or self.origin)
        route = (head.service, head.method, head.route, head.status)
        with self._lock:
            self.offered += 1
            if head.query:
                query_key = (*route[:3], tuple(sorted(head.query.items())))
                self._keep(self._queries, query_key, head, self.max_queries)
            self._per_route[route] += 1
            seen = self._per_route[route]
            if seen > ALWAYS and seen % THEN_ONE_IN:
                return
            self.shaped += 1
        started = time.perf_counter()
        request, response = bodies()
        exchange = replace(head, request=request, response=response)
        key = (*route, head.request_type, shape(request), head.response_type, shape(response))
        with self._lock:
            self._keep(self._samples, key, exchange, self.max_samples)
            self.seconds += time.perf_counter() - started

    def _keep(
        self, into: dict[Hashable, Sample], key: Hashable, exchange: Exchange, cap: int
    ) -> None:
        if key in into:
            into[key].seen += 1
        elif len(into) < cap:
            into[key] = Sample(exchange)
        else:
            self.unsampled += 1

    def samples(self) -> list[Sample]:
        """One sample per body shape, in the order the shapes first appeared."""
        with self._lock:
            return list(self._samples.values())

    def queries(self) -> list[Sample]:
        """One (body-less) sample per distinct query string."""
        with self._lock:
            return list(self._queries.values())

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()
            self._queries.clear()
            self._per_route.clear()
            self.offered = self.shaped = self.unsampled = 0
            self.seconds = 0.0

    def dump(self, path: Path) -> None:
        """Write the sample as JSON (for a subprocess handing it to the test session)."""
        payload = {
            "offered": self.offered,
            "shaped": self.shaped,
            "seconds": self.seconds,
            "unsampled": self.unsampled,
            "samples": [_sample_json(s) for s in self.samples()],
            "queries": [_sample_json(s) for s in self.queries()],
        }
        path.write_text(json.dumps(payload), encoding="utf-8")


def load_dump(path: Path) -> TrafficSampler:
    """The sample a subprocess wrote with `TrafficSampler.dump`, as a (switched off) sampler."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    loaded = TrafficSampler(
        offered=raw["offered"],
        shaped=raw["shaped"],
        seconds=raw["seconds"],
        unsampled=raw["unsampled"],
    )
    for kind, into in (("samples", loaded._samples), ("queries", loaded._queries)):
        for index, item in enumerate(raw[kind]):
            into[index] = Sample(Exchange(**item["exchange"]), item["seen"])
    return loaded


def _sample_json(sample: Sample) -> dict[str, Any]:
    return {"exchange": asdict(sample.exchange), "seen": sample.seen}


def media_type(content_type: str | None) -> str:
    """`application/json` from `application/json; charset=utf-8`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes | str | None, content_type: str | None) -> Any:
    """A JSON body as Python data; other bodies as text, so a wrong one still shows."""
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if media_type(content_type).endswith("json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


SAMPLER = TrafficSampler()
_hand_over_to: Path | None = None


def keep_in_this_process() -> None:
    """For the test session itself: judge in memory, hand nothing over at exit (even if an
    outer run's `$MIXTAPE_TRAFFIC_DIR` was inherited)."""
    global _hand_over_to
    _hand_over_to = None
    SAMPLER.enabled = False
    SAMPLER.origin = ""


def _hand_over() -> None:
    if _hand_over_to is not None and SAMPLER.offered:
        SAMPLER.dump(_hand_over_to / f"traffic-{os.getpid()}.json")


def _record_for_the_test_session() -> None:
    """In a subprocess of a test run: sample everything and hand it over at exit."""
    global _hand_over_to
    folder = os.environ.get(TRAFFIC_DIR_ENV)
    if not folder:
        return
    _hand_over_to = Path(folder)
    SAMPLER.enabled = True
    SAMPLER.origin = "subprocess: " + " ".join(sys.argv)
    atexit.register(_hand_over)


_record_for_the_test_session()
