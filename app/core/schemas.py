"""Base models and shared shapes: strict inputs, the list envelope."""

from __future__ import annotations

import re
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    Strict,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from app.core.models import as_utc

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG_RE = re.compile(r"[^a-z0-9]+")

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=120)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sentence = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
ListItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60)
]
MediaKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", max_length=300)
]


UTCDateTime = Annotated[datetime, AfterValidator(as_utc)]


def _iso_text(value: Any) -> Any:
    # Lax datetime parsing would also take a number as a Unix timestamp: 1 is not a date.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise PydanticCustomError(
            "datetime_type", "Input should be an ISO 8601 date and time, e.g. 2026-11-24T07:30:00Z."
        )
    return value


# An aware timestamp in a strict model: an ISO 8601 string with its UTC offset, nothing else.
IsoDateTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_text)]


def slugify(text: str) -> str:
    return _SLUG_RE.sub("-", text.lower()).strip("-")


def refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
    return value


# For form fields and query parameters; request bodies get the same check from InputModel.
# The pattern only states the rule in the schema (a constraint next to the validator would
# be dropped from it); the validator enforces it, with its own message.
NulFreeStr = Annotated[
    str, AfterValidator(refuse_nul), Field(json_schema_extra={"pattern": r"^[^\x00]*$"})
]


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


# Query text may not carry NUL (PostgreSQL refuses it in a text parameter): said in the schema.
NO_NUL = r"^[^\x00]*$"
# An opaque cursor of this API: URL-safe base64.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"


# The IANA names from the `tzdata` package, not the machine's own database: the OpenAPI
# document lists them, and it must not change with the machine that serves it.
TIME_ZONES: tuple[str, ...] = tuple(
    sorted(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
)
_TIME_ZONE_SET = frozenset(TIME_ZONES)


def known_time_zone(name: str) -> str:
    """`name` when it is one of the IANA time zones the document lists."""
    if name not in _TIME_ZONE_SET:
        raise PydanticCustomError(
            "time_zone",
            "Unknown time zone '{name}': use an IANA name such as Europe/London.",
            {"name": name},
        )
    return name


# Every route taking a zone takes this one type, so all list and refuse the same names.
TimeZoneQuery = Annotated[
    str,
    Query(
        max_length=64,
        description="An IANA time zone name (the tz database: `Europe/London`, "
        "`America/New_York`, `UTC`) for day boundaries; any other is a 422 naming `tz`.",
        examples=["Europe/London"],
        json_schema_extra={"enum": list(TIME_ZONES)},
    ),
    AfterValidator(known_time_zone),
]

# The same rule for a zone in a request body (a reminder's clock).
TimeZoneName = Annotated[
    str,
    Field(
        max_length=64,
        description="An IANA time zone name, e.g. `Europe/London`.",
        examples=["Europe/London"],
        json_schema_extra={"enum": list(TIME_ZONES)},
    ),
    AfterValidator(known_time_zone),
]

# JSON has no enums: an enum field of a strict input model takes its string values.
LaxEnum = Strict(False)


class InputModel(BaseModel):
    """Every request body and content file: unknown fields are an error, types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=10_000)

    @field_validator("*", mode="before", check_fields=False)
    @classmethod
    def _plain_json_values(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text (the insert fails); no text needs one.
        if _contains_nul(value):
            raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
        return _whole_numbers_as_int(value)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The NUL rule above, said in the schema, so clients and generated requests know it.
        schema = handler(core_schema)
        for prop in handler.resolve_ref_schema(schema).get("properties", {}).values():
            _say_no_nul(prop)
        return schema


def read_only(description: str) -> Any:
    """A member a GET returns that a PUT may send back unchanged: accepted, ignored (left
    out of `model_dump`) and marked `readOnly` in the schema, so a read can be written back."""
    return Field(
        exclude=True,
        description=f"Read-only: {description} Sent back, it is ignored.",
        json_schema_extra={"readOnly": True},
    )


def _say_no_nul(schema: dict[str, Any]) -> None:
    """Give each free-text string in `schema` (and its unions and items) the NO_NUL pattern."""
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = NO_NUL
    for branch in schema.get("anyOf", ()):
        _say_no_nul(branch)
    if isinstance(schema.get("items"), dict):
        _say_no_nul(schema["items"])


def _whole_numbers_as_int(value: Any) -> Any:
    """2.0 is the JSON number 2 (JSON Schema counts it as an integer); 2.5, NaN, true and
    "2" stay what they are, and strict validation refuses them where an integer goes."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list) and any(isinstance(item, float) for item in value):
        return [_whole_numbers_as_int(item) for item in value]
    return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
