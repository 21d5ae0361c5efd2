"""Validate JSON against the schemas of a vendor's OpenAPI description (3.0 or 3.1).

Contract tests use this to check that a fake answers in the shapes its vendor documents:

    spec = load_vendor_spec("spotify-openapi.yml")
    validate(spec, "PlaylistObject", body)                          # a component schema
    validate(spec, response_schema(spec, "/me", "get", 200), body)  # what an operation answers
    assert undocumented_fields(spec, "PlaylistObject", body) == []  # no keys the spec lacks

OpenAPI 3.0 schemas are rewritten into JSON Schema 2020-12 first (`nullable: true` becomes
a `"null"` alternative, boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers); 3.1
schemas already are JSON Schema. `$ref`s resolve inside the document through a
`referencing` registry, so nothing is copied out of the vendor files.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT / "specs"  # vendored, with their source and licence (specs/README.md)

Schema = Mapping[str, Any]


def load_vendor_spec(filename: str) -> OpenAPISpec:
    """A spec vendored in `specs/`; a missing one is an error, never a skip.

    A skip would let a checkout without the files pass every contract check unseen.
    """
    path = SPECS_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"vendored spec {path} is missing: see specs/README.md")
    return load_spec(path)


# libyaml's parser when PyYAML has it: five times faster on Spotify's 280 kB description.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JsonLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML without timestamps: `example: 1981-12-15` must stay a string, as in JSON."""


_JsonLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, eq=False)  # hashed by identity: load_spec makes one per file
class OpenAPISpec:
    path: Path
    version: str  # the document's `openapi` field
    document: Mapping[str, Any]  # already in JSON Schema 2020-12 terms
    registry: Registry[Any]
    uri: str

    def ref(self, target: str) -> Schema:
        """`{"$ref": ...}` for a component schema name or a `#/...` pointer."""
        pointer = target if target.startswith("#") else f"#/components/schemas/{target}"
        self.resolve(pointer)  # fail early on a typo
        return {"$ref": f"{self.uri}{pointer}"}

    def resolve(self, pointer: str) -> Any:
        """The node at a `#/...` pointer of the (converted) document."""
        return self.registry.resolver(self.uri).lookup(pointer).contents


@cache
def load_spec(path: Path) -> OpenAPISpec:
    """Parse a JSON or YAML OpenAPI document (3.0.x or 3.1.x); cached per path."""
    text = Path(path).read_text(encoding="utf-8")
    raw = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_JsonLoader)  # noqa: S506
    version = str(raw.get("openapi", ""))
    if not version.startswith(("3.0", "3.1")):
        raise ValueError(f"{path}: not an OpenAPI 3.0/3.1 document (openapi={version!r})")
    document = _from_openapi30(copy.deepcopy(raw)) if version.startswith("3.0") else raw
    uri = f"urn:openapi:{path.name}"
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    return OpenAPISpec(Path(path), version, document, Registry().with_resource(uri, resource), uri)


def _from_openapi30(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 schema dialect into JSON Schema 2020-12, bottom-up."""
    if isinstance(node, list):
        return [_from_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _from_openapi30(value) for key, value in node.items()}
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(node.get(bound), bool):
            limit = node.pop("minimum" if bound == "exclusiveMinimum" else "maximum", None)
            if node.pop(bound) and limit is not None:
                node[bound] = limit
    if node.get("nullable") is True:
        del node["nullable"]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _schema(spec: OpenAPISpec, schema: str | Schema) -> Schema:
    return spec.ref(schema) if isinstance(schema, str) else schema


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def response_schema(
    spec: OpenAPISpec, path: str, method: str, status: int | str, media: str = "application/json"
) -> Schema:
    """The schema an operation documents for one response status, as a `$ref` into the spec.

    Referencing (rather than copying) keeps the schema's own relative `$ref`s resolvable.
    """
    responses = spec.document["paths"][path][method.lower()]["responses"]
    if str(status) not in responses:
        raise KeyError(f"{method.upper()} {path} documents no {status} response")
    pointer = "#/" + "/".join(
        _escape(s) for s in ("paths", path, method.lower(), "responses", str(status))
    )
    response = spec.resolve(pointer)
    while "$ref" in response:
        pointer = response["$ref"]
        response = spec.resolve(pointer)
    if media not in response.get("content", {}):
        raise KeyError(f"{method.upper()} {path} {status} documents no {media} body")
    return spec.ref(f"{pointer}/content/{_escape(media)}/schema")


def validator(spec: OpenAPISpec, schema: str | Schema) -> jsonschema.Draft202012Validator:
    """A validator for `schema`; one per `$ref`, so its resolved references are reused."""
    resolved = _schema(spec, schema)
    if set(resolved) == {"$ref"}:
        return _ref_validator(spec, resolved["$ref"])
    return jsonschema.Draft202012Validator(resolved, registry=spec.registry)


@cache
def _ref_validator(spec: OpenAPISpec, ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=spec.registry)


# A partial answer (Spotify's `fields=`) holds only what was asked for: no key is required,
# and a cut-down object may fit more than one branch of a oneOf.
_PartialValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {
        "required": lambda *_: iter(()),
        "oneOf": jsonschema.Draft202012Validator.VALIDATORS["anyOf"],
    },
)


def partial_validator(spec: OpenAPISpec, schema: str | Schema) -> jsonschema.Draft202012Validator:
    """A validator for an answer cut down to the fields a client asked for."""
    validator: jsonschema.Draft202012Validator = _PartialValidator(
        _schema(spec, schema), registry=spec.registry
    )
    return validator


def validation_errors(
    spec: OpenAPISpec, schema: str | Schema, instance: Any
) -> list[ValidationError]:
    """Every violation, for reporting more than the first."""
    return list(validator(spec, schema).iter_errors(instance))


def validate(spec: OpenAPISpec, schema: str | Schema, instance: Any) -> None:
    """Raise the most relevant `ValidationError` if `instance` breaks `schema`.

    `schema` is a component schema name ("PlaylistObject"), a `#/...` pointer into the
    document, or a schema dict (e.g. from `response_schema`) whose `$ref`s are absolute
    (build them with `spec.ref(...)`).
    """
    error = best_match(validator(spec, schema).iter_errors(instance))
    if error is not None:
        raise error


def undocumented_fields(spec: OpenAPISpec, schema: str | Schema, instance: Any) -> list[str]:
    """JSON paths of object keys no matching schema declares (and none allows extras).

    The vendor schemas rarely forbid additional properties, so plain validation cannot
    notice a misspelt optional field; this walk can. Branches of oneOf/anyOf count only
    if the instance validates against them.
    """
    return list(_unknown(spec, [(_schema(spec, schema), None)], instance, "$"))


# A schema with its `#/...` location in the document (None for a caller's own dict), so
# that a branch holding relative `$ref`s can still be validated on its own.
_Located = tuple[Schema, str | None]


def _child(located: _Located, *segments: str | int) -> _Located:
    schema, pointer = located
    node: Any = schema
    for segment in segments:
        node = node[segment]
    where = None if pointer is None else "/".join([pointer, *(_escape(str(s)) for s in segments)])
    return node, where


def _follow(spec: OpenAPISpec, ref: str) -> _Located:
    pointer = ref[len(spec.uri) :] if ref.startswith(spec.uri) else ref
    return spec.resolve(pointer), pointer


def _valid(spec: OpenAPISpec, located: _Located, instance: Any) -> bool:
    schema, pointer = located
    return bool(validator(spec, spec.ref(pointer) if pointer else schema).is_valid(instance))


def _applied(spec: OpenAPISpec, schemas: list[_Located], instance: Any) -> list[_Located]:
    """The schemas that apply to `instance`: itself, `$ref` targets, allOf, valid branches."""
    out: list[_Located] = []
    for located in schemas:
        schema = located[0]
        out.append(located)
        if "$ref" in schema:
            out += _applied(spec, [_follow(spec, schema["$ref"])], instance)
        parts = [_child(located, "allOf", i) for i in range(len(schema.get("allOf", [])))]
        for key in ("oneOf", "anyOf"):
            branches = [_child(located, key, i) for i in range(len(schema.get(key, [])))]
            parts += [b for b in branches if _valid(spec, b, instance)]
        out += _applied(spec, parts, instance)
    return out


def _unknown(
    spec: OpenAPISpec, schemas: list[_Located], instance: Any, where: str
) -> Iterator[str]:
    applied = _applied(spec, schemas, instance)
    if isinstance(instance, dict):
        described = any("properties" in s for s, _ in applied)  # else a free-form object
        open_ended = any(s.get("additionalProperties", False) is not False for s, _ in applied)
        for key, value in instance.items():
            below = [
                _child(a, "properties", key) for a in applied if key in a[0].get("properties", {})
            ]
            if not below and described and not open_ended:
                yield f"{where}.{key}"
            yield from _unknown(spec, below, value, f"{where}.{key}")
    elif isinstance(instance, list):
        items = [_child(a, "items") for a in applied if isinstance(a[0].get("items"), dict)]
        for index, value in enumerate(instance):
            yield from _unknown(spec, items, value, f"{where}[{index}]")
