"""Hostile inputs, derived from the OpenAPI document so a new write route is covered at once.

`write_operations` lists every POST/PUT/PATCH/DELETE the API documents;
`document_bodies` are whole bodies no route may accept (too large, not UTF-8,
nested 10,000 deep, the wrong top-level type, ...); `field_mutations` walks a
route's request schema and builds, for each field, bodies whose one bad value
must be refused at that field (a boolean where an integer goes, a string one
past its maximum length, NUL bytes, a list one past its maximum, ...);
`unbounded_inputs` lists the strings, integers and lists a request schema
leaves without a maximum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WRITE_METHODS = ("post", "put", "patch", "delete")
JSON = "application/json"
UNKNOWN_FIELD = "unexpected_field"
HUGE_INTEGER = 10**30
# Path values no id or slug may be: each must answer 404 or 422, never act.
MALFORMED_PATH_VALUES = (
    "0",
    "-1",
    "99999999999999999999999",
    "1.5",
    "true",
    "not an id",
    "%00",
    "a" * 300,
)
# Formats whose values are bounded by their own grammar.
SELF_BOUNDED_FORMATS = ("uuid", "date-time", "date", "email", "binary")

Schema = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    media_type: str | None
    body_schema: Schema | None
    path_params: dict[str, Schema]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True)
class HostileBody:
    label: str
    content: bytes
    content_type: str
    status: int | None  # the exact answer, when every route must give the same one


@dataclass(frozen=True)
class FieldMutation:
    label: str
    pointer: str  # e.g. `body.entries.0.pain`: the 422 must name it
    body: Any


class Resolver:
    """Follows `$ref`s into `components/schemas` of one OpenAPI document."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self._schemas: dict[str, Schema] = openapi.get("components", {}).get("schemas", {})

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self._schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def single_branch(self, schema: Schema) -> Schema | None:
        """The one non-null branch of `X | None`; None for real unions (not walked)."""
        schema = self.resolve(schema)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches is None or "properties" in schema:
            # An object's own `anyOf` only adds a rule across its fields (the dosage's, the
            # schedule's): its fields are still walked one by one.
            return schema
        real = [self.resolve(b) for b in branches if self.resolve(b).get("type") != "null"]
        return real[0] if len(real) == 1 else None


def write_operations(openapi: dict[str, Any]) -> list[Operation]:
    operations = []
    for path, item in openapi["paths"].items():
        for method in WRITE_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            media_type = next(iter(content), None)
            params = {
                p["name"]: p.get("schema", {})
                for p in operation.get("parameters", [])
                if p["in"] == "path"
            }
            operations.append(
                Operation(
                    method=method,
                    path=path,
                    name=operation.get("operationId", f"{method} {path}"),
                    media_type=media_type,
                    body_schema=content[media_type].get("schema") if media_type else None,
                    path_params=params,
                )
            )
    return operations


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def document_bodies(max_body_bytes: int, content_type: str) -> list[HostileBody]:
    """Bodies refused whatever the route expects."""
    too_large = b'{"padding": "' + b"x" * max_body_bytes + b'"}'
    bodies = [
        HostileBody("larger than the cap", too_large, content_type, 413),
        HostileBody("invalid UTF-8", b'{"text": "caf\xc3\x28 \xff\xfe"}', content_type, None),
        HostileBody("10,000 nested arrays", _nested(10_000), content_type, None),
        HostileBody(
            "10,000 nested objects",
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            content_type,
            None,
        ),
        HostileBody("truncated JSON", b'{"text": "unfinished', content_type, None),
        HostileBody(
            "an integer of 5,000 digits", b'{"n": ' + b"9" * 5000 + b"}", content_type, None
        ),
    ]
    if content_type == JSON:
        # A JSON route's own answers: unreadable bodies are 400, wrong shapes 422.
        bodies = [HostileBody(b.label, b.content, b.content_type, b.status or 400) for b in bodies]
        bodies += [
            HostileBody(f"top-level {name}", raw, JSON, 422)
            for name, raw in (
                ("array", b"[]"),
                ("string", b'"text"'),
                ("number", b"42"),
                ("null", b"null"),
                ("boolean", b"true"),
            )
        ]
        bodies.append(HostileBody("JSON sent as text/plain", b"{}", "text/plain", 422))
    return bodies


# ---------------------------------------------------------------------------
# Field by field


def sample(schema: Schema, resolver: Resolver) -> Any:
    """A small value of the schema's shape (not always valid: only the mutated field counts)."""
    branch = resolver.single_branch(schema)
    schema = branch if branch is not None else resolver.resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: sample(sub, resolver)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [sample(schema.get("items", {}), resolver)] * max(schema.get("minItems", 1), 1)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return _sample_text(schema)


def _sample_text(schema: Schema) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return "3f1c9f4e-2b8a-4d7e-9c1a-5e6f7a8b9c0d"
    if fmt == "date-time":
        return "2026-11-24T07:30:00Z"
    if fmt == "email":
        return "someone@example.com"
    length: int = max(schema.get("minLength", 1), 1)
    return "a" * length


def field_mutations(schema: Schema, resolver: Resolver) -> list[FieldMutation]:
    """Bodies that each carry one bad value, with the pointer of the field that holds it."""
    return list(_mutations(schema, resolver, ("body",)))


def _mutations(schema: Schema, resolver: Resolver, at: tuple[str, ...]) -> Iterator[FieldMutation]:
    branch = resolver.single_branch(schema)
    if branch is None:
        return  # a union is checked by the route itself, item by item
    kind = branch.get("type")
    if kind == "object":
        yield from _object_mutations(branch, resolver, at)
    elif kind == "array":
        yield from _array_mutations(branch, resolver, at)
    elif kind == "integer":
        yield from _integer_mutations(branch, at)
    elif kind == "boolean":
        yield from _leaf(at, ("the string 'true'", "true"), ("the number 1", 1))
    elif kind == "string":
        yield from _string_mutations(branch, at)


def _leaf(at: tuple[str, ...], *cases: tuple[str, Any]) -> Iterator[FieldMutation]:
    pointer = ".".join(at)
    for label, value in cases:
        yield FieldMutation(f"{pointer}: {label}", pointer, value)


def _object_mutations(
    schema: Schema, resolver: Resolver, at: tuple[str, ...]
) -> Iterator[FieldMutation]:
    base = sample(schema, resolver)
    pointer = ".".join(at)
    yield FieldMutation(
        f"{pointer}: an unknown field", f"{pointer}.{UNKNOWN_FIELD}", {**base, UNKNOWN_FIELD: 1}
    )
    if len(at) > 1:
        yield FieldMutation(f"{pointer}: a string instead of an object", pointer, "text")
    for name, sub in schema.get("properties", {}).items():
        for inner in _mutations(sub, resolver, (*at, name)):
            yield FieldMutation(inner.label, inner.pointer, {**base, name: inner.body})


def _array_mutations(
    schema: Schema, resolver: Resolver, at: tuple[str, ...]
) -> Iterator[FieldMutation]:
    item = schema.get("items", {})
    one = sample(item, resolver)
    pointer = ".".join(at)
    if "maxItems" in schema:
        too_many = [one] * (schema["maxItems"] + 1)
        yield FieldMutation(f"{pointer}: {len(too_many)} items", pointer, too_many)
    yield FieldMutation(f"{pointer}: a string instead of a list", pointer, "text")
    for inner in _mutations(item, resolver, (*at, "0")):
        yield FieldMutation(inner.label, inner.pointer, [inner.body])


def _integer_mutations(schema: Schema, at: tuple[str, ...]) -> Iterator[FieldMutation]:
    cases: list[tuple[str, Any]] = [
        ("a boolean", True),
        ("10**30", HUGE_INTEGER),
        ("a float", 1.5),
        ("NaN", math.nan),
        ("Infinity", math.inf),
        ("a numeric string", "1"),
    ]
    if "maximum" in schema:
        cases.append(("one past the maximum", schema["maximum"] + 1))
    if "minimum" in schema:
        cases.append(("one below the minimum", schema["minimum"] - 1))
    yield from _leaf(at, *cases)


def _string_mutations(schema: Schema, at: tuple[str, ...]) -> Iterator[FieldMutation]:
    cases: list[tuple[str, Any]] = [("a number", 1), ("NUL bytes", "a\x00b")]
    if "enum" in schema:
        cases.append(("a value outside the enum", "not-one-of-them"))
    if "maxLength" in schema:
        cases.append(("one character too long", "a" * (schema["maxLength"] + 1)))
    if schema.get("format") in SELF_BOUNDED_FORMATS:
        cases.append(("1,000 characters", "9" * 1000))
    yield from _leaf(at, *cases)


def encode(body: Any) -> bytes:
    """JSON as a lenient client writes it: NaN and Infinity as bare words."""
    return json.dumps(body, allow_nan=True).encode()


# ---------------------------------------------------------------------------
# The audit: every input has a bound


def unbounded_inputs(openapi: dict[str, Any]) -> list[str]:
    """Strings without maxLength, integers without maximum, lists without maxItems,
    in every request body and parameter of the document."""
    resolver = Resolver(openapi)
    found: list[str] = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            for param in operation.get("parameters", []):
                found += _unbounded(
                    param.get("schema", {}), resolver, f"{label} {param['name']}", set()
                )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                found += _unbounded(media.get("schema", {}), resolver, f"{label} body", set())
    return sorted(set(found))


def _unbounded(schema: Schema, resolver: Resolver, where: str, seen: set[str]) -> list[str]:
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    schema = resolver.resolve(schema)
    found: list[str] = []
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += _unbounded(branch, resolver, where, seen)
    kind = schema.get("type")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += _unbounded(sub, resolver, f"{where}.{name}", seen)
    elif kind == "array":
        if "maxItems" not in schema:
            found.append(f"{where}: a list without maxItems")
        found += _unbounded(schema.get("items", {}), resolver, f"{where}[]", seen)
    elif kind == "integer" and "maximum" not in schema:
        found.append(f"{where}: an integer without maximum")
    elif kind == "string" and not _bounded_text(schema):
        found.append(f"{where}: a string without maxLength")
    return found


def _bounded_text(schema: Schema) -> bool:
    return (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in SELF_BOUNDED_FORMATS
    )
