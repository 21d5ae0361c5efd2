"""Judge sampled traffic (`fakes.traffic`) against the vendored OpenAPI descriptions.

Each exchange is matched to its operation by method and path template; then its request
body, its query parameters and the answer's body are held to what that operation documents,
and any mismatch names the service, the operation, the status, the part and the field:

    discord POST /channels/{channel_id}/messages 200: response body $.author: required,
    missing (1 exchange(s) of this shape, e.g. POST /api/v10/channels/1/messages from
    tests/bot/test_share.py::test_share)

Keys a schema does not declare count too: the vendor schemas rarely forbid extra keys, so
only that walk notices a misspelt optional field (a few that client libraries always send
are `TOLERATED`, and listed apart). Error answers the spec does not list for an operation
are held to its shared error shapes, as the real services send them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from fakes.traffic import Exchange, Sample, TrafficSampler, load_dump
from tests.contract.openapi import (
    OpenAPISpec,
    Schema,
    load_vendor_spec,
    partial_validator,
    undocumented_fields,
    validator,
)


@dataclass(frozen=True)
class Tolerated:
    """A known gap between a spec and what real clients send or real services answer, which
    neither the fakes nor the tests can change. Reported apart (with `why`), not failed."""

    service: str
    method: str  # "*" for any
    part: str
    field: str  # a regex matched against the field, list indices written `[]`
    message: str  # a regex matched against the message
    why: str
    status: int | None = None  # None for any


UNDECLARED = "a key the schema does not declare"
TOLERATED = [
    Tolerated("discord", "*", "request body", r".*\.embeds\[\]\.flags", UNDECLARED,
              "discord.py's Embed.to_dict always sends `flags`; the spec's RichEmbed has none"),
    Tolerated("discord", "*", "request body", r"\$(\.data)?\.tts", UNDECLARED,
              "discord.py's handle_message_parameters sends `tts` with edits (PATCH, and"
              " update-message callbacks) too"),
    Tolerated("discord", "PUT", "request body", r"\$\[\]\.nsfw", UNDECLARED,
              "Discord documents `nsfw` for commands; the spec's ApplicationCommandUpdateRequest"
              " lacks it"),
    Tolerated("spotify", "GET", "response body", r"\$\.items\[\]\.(item|track)", r"None is .*",
              "Spotify answers a null item (and track) for an entry no longer available, as its"
              " docs once said and spotify/web-api#958 shows; the spec's PlaylistTrackObject"
              " does not allow null", status=200),
    Tolerated("spotify", "GET", "response body",
              r"\$(\.(items|tracks))?\.items\[\]\.(item|track)\.album\.album_type",
              r"'show' is not one of .*",
              "an episode sent to a client whose additional_types leaves `episode` out comes"
              " in Spotify's track-shaped legacy form, the show as its album"
              " (spotify/web-api#1511, #1528); the spec's TrackObject has no such album",
              status=200),
    Tolerated("spotify", "*", "response body", r"\$", r"answered 'text/plain'.*",
              "Spotify's development-mode refusal is a text/plain 403 ('User not registered in"
              " the Developer Dashboard', as spotipy#688 and zmb3/spotify#232 show); the spec"
              " documents JSON only", status=403),
]  # fmt: skip
SPOTIFY_SHARED_ERRORS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
}
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
# Discord's "Boolean Query Strings": True, true and 1 are true; False, false and 0 false.
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class Mismatch:
    """One way an exchange departs from the spec, and where it was first seen."""

    service: str
    operation: str  # "POST /channels/{channel_id}/messages"
    status: int | None  # None for request-side mismatches
    part: str  # "request body", "query" or "response body"
    field: str  # a JSON path into the body (list indices as `[]`), or a query parameter
    message: str
    example: str  # the concrete request and the test (or process) that sent it
    seen: int = 1
    kind: str = ""  # the message without the offending value: what counts as the same

    @property
    def key(self) -> tuple[str | int | None, ...]:
        """Mismatches with equal keys are one finding, however many values showed it."""
        return (self.service, self.operation, self.status, self.part, self.field,
                self.kind or self.message)  # fmt: skip

    def __str__(self) -> str:
        status = "" if self.status is None else f" {self.status}"
        return (
            f"{self.service} {self.operation}{status}: {self.part} {self.field}: "
            f"{self.message} ({self.seen} exchange(s) of this shape, e.g. {self.example})"
        )

    def tolerated(self) -> Tolerated | None:
        """The entry of `TOLERATED` that excuses this mismatch, if any."""
        method = self.operation.split(" ", 1)[0]
        return next(
            (t for t in TOLERATED
             if (t.service, t.part) == (self.service, self.part)
             and t.method in ("*", method) and t.status in (None, self.status)
             and re.fullmatch(t.field, self.field) and re.fullmatch(t.message, self.message)),
            None,
        )  # fmt: skip


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    template: str  # the spec's path template
    pointer: str  # "#/paths/~1me/get"

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class ServiceContract:
    """One vendor's spec and how its paths sit under the fake's URL (`prefix`)."""

    service: str
    spec: OpenAPISpec
    prefix: str  # "/api/v10" or "/v1"

    def operation(self, method: str, path: str) -> Operation | None:
        """The documented operation serving `method` on the concrete `path`, if any.

        A trailing slash is ignored, as both services do (spotipy asks for `/v1/me/`).
        """
        if not path.startswith(self.prefix + "/"):
            return None
        below = path[len(self.prefix) :].rstrip("/") or "/"
        return _match(self.spec, self.service, method.lower(), below)

    def check(self, sample: Sample) -> list[Mismatch]:
        """Request body and answer of a sampled exchange."""
        exchange = sample.exchange
        op = self.operation(exchange.method, exchange.path)
        if op is None:
            return []
        found = [("request body", *problem) for problem in self._request(op, exchange)]
        found += [("response body", *problem) for problem in self._response(op, exchange)]
        return [self._mismatch(op, sample, *problem) for problem in found]

    def check_query(self, sample: Sample) -> list[Mismatch]:
        """Every query parameter of a sampled exchange, and the required ones it lacks."""
        exchange = sample.exchange
        op = self.operation(exchange.method, exchange.path)
        if op is None:
            return []
        documented = _query_parameters(self.spec, op)
        found = [
            (name, "the operation documents no such query parameter")
            for name in exchange.query
            if name not in documented
        ]
        for name, (required, schema) in documented.items():
            value = exchange.query.get(name)
            if value is None and required:
                found.append((name, "required query parameter missing"))
            elif value is not None and (problem := _value_problem(self.spec, schema, value)):
                found.append((name, problem))
        return [self._mismatch(op, sample, "query", name, *_said(msg)) for name, msg in found]

    # -- bodies ------------------------------------------------------------------------

    def _request(self, op: Operation, exchange: Exchange) -> Iterator[tuple[str, str, str]]:
        """(field, message, kind) for what the request body gets wrong."""
        body = self.spec.resolve(op.pointer).get("requestBody")
        pointer = f"{op.pointer}/requestBody"
        while body is not None and "$ref" in body:
            pointer = body["$ref"]
            body = self.spec.resolve(pointer)
        sent = exchange.request is not None
        if body is None or not sent:
            if body is None and sent:
                yield "$", *_said("the operation documents no request body")
            elif body is not None and body.get("required"):
                yield "$", *_said("required request body missing")
            return
        content = body.get("content", {})
        media = exchange.request_type
        if media not in content:
            yield "$", *_said(f"sent as {media!r}; the operation accepts {sorted(content)}")
            return
        schema = self.spec.ref(f"{pointer}/content/{_escape(media)}/schema")
        yield from _problems(self.spec, schema, exchange.request)

    def _response(self, op: Operation, exchange: Exchange) -> Iterator[tuple[str, str, str]]:
        """(field, message, kind) for what the answer gets wrong."""
        content = self._documented_response(op, exchange.status)
        got = exchange.response_type
        if content is None:
            yield "$", *_said(f"the operation documents no {exchange.status} answer")
        elif not content:
            if exchange.response is not None:
                yield "$", *_said("the spec documents no body for this answer")
        elif got not in content:
            yield (
                "$",
                *_said(f"answered {got or 'no body'!r}; the spec documents {sorted(content)}"),
            )
        else:
            judged = without_known_gaps(self.service, exchange.status, exchange.response)
            partial = self.service == "spotify" and bool(exchange.query.get("fields"))
            yield from _problems(self.spec, content[got], judged, partial=partial)

    def _documented_response(self, op: Operation, status: int) -> dict[str, Schema] | None:
        """media type -> schema the spec documents for `status` (empty: no body), or None.

        An error status the operation does not list falls back to what the service sends
        for every operation: Discord's 4XX/`ErrorResponse`, Spotify's shared error
        responses, and for 5xx (which neither spec documents) each service's error object.
        """
        responses = self.spec.resolve(op.pointer)["responses"]
        keys = [k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses]
        if keys:
            pointer = f"{op.pointer}/responses/{_escape(keys[0])}"
        elif self.service == "spotify" and status in SPOTIFY_SHARED_ERRORS:
            pointer = f"#/components/responses/{SPOTIFY_SHARED_ERRORS[status]}"
        elif status >= 500:
            return {"application/json": self._server_error()}
        else:
            return None
        pointer, answer = _follow(self.spec, pointer)
        return {
            media: self.spec.ref(f"{pointer}/content/{_escape(media)}/schema")
            for media in answer.get("content", {})
        }

    def _server_error(self) -> Schema:
        if self.service == "discord":
            return self.spec.ref("ErrorResponse")
        error = self.spec.ref("ErrorObject")
        return {"type": "object", "required": ["error"], "properties": {"error": error}}

    def _mismatch(
        self, op: Operation, sample: Sample, part: str, field: str, message: str, kind: str
    ) -> Mismatch:
        exchange = sample.exchange
        query = "&".join(f"{k}={v}" for k, v in exchange.query.items())
        where = exchange.path + (f"?{query}" if query else "")
        example = f"{exchange.method} {where} from {exchange.origin or 'an unnamed test'}"
        status = exchange.status if part == "response body" else None
        field = re.sub(r"\[\d+\]", "[]", field)
        return Mismatch(
            self.service, op.name, status, part, field, message, example, sample.seen, kind
        )


def without_known_gaps(service: str, status: int, body: Any) -> Any:
    """The body as the spec can judge it.

    Known gap in Discord's spec: it types the codes inside a 50035 `errors` tree as
    integers (`Error.code`), while Discord sends strings such as "BASE_TYPE_MAX_LENGTH"
    (its "Error Messages" docs); the fake follows Discord, and
    `test_field_errors_have_discords_shape` checks that tree instead.
    """
    if service == "discord" and status >= 400 and isinstance(body, dict) and "errors" in body:
        return {k: v for k, v in body.items() if k != "errors"}
    return body


def _problems(
    spec: OpenAPISpec, schema: Schema, instance: Any, *, partial: bool = False
) -> Iterator[tuple[str, str, str]]:
    """(field, message, kind) for every violation of `schema`, then every undeclared key.

    `partial`: the answer to a Spotify request with `fields=`, which "filters" what comes
    back (its spec), so it is held to the schema's types and keys but not its `required`.
    """
    judge = partial_validator(spec, schema) if partial else validator(spec, schema)
    for error in judge.iter_errors(instance):
        yield _field(best_match([error]) or error)
    for path in undocumented_fields(spec, schema, instance):
        yield path, *_said(UNDECLARED)


def _said(message: str) -> tuple[str, str]:
    """A message that names no value is its own kind."""
    return message, message


def _field(error: ValidationError) -> tuple[str, str, str]:
    """The JSON path a violation is about (a missing required key is named in the path),
    the message, and the message without the offending value."""
    path = error.json_path
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [
            key
            for key in error.validator_value
            if key not in error.instance and repr(key) in error.message
        ]
        if missing:
            return f"{path}.{missing[0]}", *_said("required, missing")
    value = repr(error.instance)
    return (
        path,
        error.message.replace(value, _brief(error.instance)),
        error.message.replace(value, "<value>"),
    )


def _brief(instance: Any) -> str:
    """A value short enough for a one-line report (a list of 100 URIs is not)."""
    text = repr(instance)
    if len(text) <= 80:
        return text
    if isinstance(instance, list | dict):
        return f"{type(instance).__name__} of {len(instance)} ({text[:40]}...)"
    return text[:77] + "..."


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _follow(spec: OpenAPISpec, pointer: str) -> tuple[str, Any]:
    node = spec.resolve(pointer)
    while "$ref" in node:
        pointer = node["$ref"]
        node = spec.resolve(pointer)
    return pointer, node


# -- operations -------------------------------------------------------------------------


@cache
def _templates(spec: OpenAPISpec) -> list[tuple[re.Pattern[str], str]]:
    """Path templates as patterns, those with more literal segments first (`@original`
    before `{message_id}`)."""
    compiled = []
    for template in spec.document["paths"]:
        parts = template.strip("/").split("/")
        pattern = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        literal = sum(not p.startswith("{") for p in parts)
        compiled.append((literal, re.compile(f"/{pattern}"), template))
    compiled.sort(key=lambda item: -item[0])
    return [(pattern, template) for _, pattern, template in compiled]


@cache
def _match(spec: OpenAPISpec, service: str, method: str, path: str) -> Operation | None:
    for pattern, template in _templates(spec):
        if pattern.fullmatch(path) and method in spec.document["paths"][template]:
            pointer = f"#/paths/{_escape(template)}/{method}"
            return Operation(service, method.upper(), template, pointer)
    return None


@cache
def _query_parameters(spec: OpenAPISpec, op: Operation) -> dict[str, tuple[bool, str]]:
    """name -> (required, schema pointer) for the operation's and its path's query params."""
    out: dict[str, tuple[bool, str]] = {}
    path_pointer = op.pointer.rsplit("/", 1)[0]
    for owner in (path_pointer, op.pointer):
        for index, _ in enumerate(spec.resolve(owner).get("parameters", [])):
            pointer, parameter = _follow(spec, f"{owner}/parameters/{index}")
            if parameter.get("in") == "query":
                required = bool(parameter.get("required"))
                out[parameter["name"]] = (required, f"{pointer}/schema")
    return out


@cache
def _value_problem(spec: OpenAPISpec, schema: str, value: str) -> str | None:
    """Why no reading of the text `value` fits `schema`, or None if one does.

    A query value is text; it conforms if it reads as a value the schema accepts: as
    itself, a number, a boolean, or a comma-separated list (`explode: false` arrays).
    """
    check = validator(spec, schema)
    errors = []
    for reading in _readings(value):
        error = best_match(check.iter_errors(reading))
        if error is None:
            return None
        errors.append(error)
    # the reading of the right type says most (100 is over a maximum; "100" is no integer)
    telling = next((e for e in errors if e.validator != "type"), errors[0])
    return f"{value!r}: {telling.message}"


def _readings(value: str) -> Iterable[Any]:
    yield value
    if _INTEGER.fullmatch(value):
        yield int(value)
    if _NUMBER.fullmatch(value):
        yield float(value)
    if value.lower() in _BOOLEANS:
        yield _BOOLEANS[value.lower()]
    yield value.split(",")


# -- the whole sample ----------------------------------------------------------------------

SPEC_FILES = {"discord": "discord-openapi.json", "spotify": "spotify-openapi.yml"}
PREFIXES = {"discord": "/api/v10", "spotify": "/v1"}


@dataclass(frozen=True)
class TrafficReport:
    """What a session's sampled traffic came to."""

    found: list[Mismatch]  # failing and tolerated alike
    offered: int  # exchanges the fakes answered while sampling
    shaped: int  # of those, how many had their bodies looked at
    sampling_seconds: float  # what looking at them cost the fakes
    checked: int  # distinct body shapes and queries judged against an operation
    operations: list[str]  # the operations they were judged against
    undocumented: list[str]  # routes seen that no operation of the spec covers
    unsampled: int  # exchanges of a new shape or query that arrived after a cap

    @property
    def mismatches(self) -> list[Mismatch]:
        """The mismatches that fail the run."""
        return [m for m in self.found if m.tolerated() is None]

    def lines(self) -> list[str]:
        tolerated = [(m, t) for m in self.found if (t := m.tolerated()) is not None]
        out = [
            f"{self.offered} exchanges with the fakes ({self.shaped} looked at, in "
            f"{self.sampling_seconds:.1f} s), "
            f"{self.checked} distinct shapes and queries judged: "
            f"{len(self.mismatches)} mismatch(es), {len(tolerated)} tolerated",
            *(f"  {m}" for m in self.mismatches),
            *(f"  tolerated: {m} -- {t.why}" for m, t in tolerated),
        ]
        out.append("  operations judged: " + ", ".join(self.operations))
        if self.undocumented:
            out.append("  in neither spec (not judged): " + ", ".join(self.undocumented))
        if self.unsampled:
            out.append(f"  {self.unsampled} exchange(s) of new shapes arrived after a cap "
                       "and were not judged")  # fmt: skip
        return out


def check_traffic(*samplers: TrafficSampler) -> TrafficReport:
    """Judge every sample the samplers kept; a spec is loaded only if its service was called."""
    contracts: dict[str, ServiceContract] = {}

    def contract(service: str) -> ServiceContract:
        if service not in contracts:
            spec = load_vendor_spec(SPEC_FILES[service])
            contracts[service] = ServiceContract(service, spec, PREFIXES[service])
        return contracts[service]

    found: dict[tuple[str | int | None, ...], Mismatch] = {}
    undocumented: set[str] = set()
    operations: set[str] = set()
    checked = 0
    for sampler in samplers:
        for kind, batch in (("bodies", sampler.samples()), ("query", sampler.queries())):
            for sample in batch:
                exchange = sample.exchange
                judge = contract(exchange.service)
                op = judge.operation(exchange.method, exchange.path)
                if op is None:
                    undocumented.add(f"{exchange.service} {exchange.route or exchange.path}")
                    continue
                operations.add(f"{exchange.service} {op.name}")
                checked += 1
                results = judge.check(sample) if kind == "bodies" else judge.check_query(sample)
                for mismatch in results:
                    if mismatch.key in found:
                        first = found[mismatch.key]
                        mismatch = replace(first, seen=first.seen + mismatch.seen)
                    found[mismatch.key] = mismatch
    return TrafficReport(
        list(found.values()),
        offered=sum(s.offered for s in samplers),
        shaped=sum(s.shaped for s in samplers),
        sampling_seconds=sum(s.seconds for s in samplers),
        checked=checked,
        operations=sorted(operations),
        undocumented=sorted(undocumented),
        unsampled=sum(s.unsampled for s in samplers),
    )


def check_session_traffic(sampler: TrafficSampler, handed_over: Path) -> TrafficReport | None:
    """Judge what `sampler` kept plus what subprocesses wrote to `handed_over`; None if the
    session sampled nothing (then no spec is even loaded)."""
    samplers = [sampler, *(load_dump(p) for p in sorted(handed_over.glob("traffic-*.json")))]
    if not any(s.offered for s in samplers):
        return None
    return check_traffic(*samplers)
