"""Search: FHIR query parameters in, searchset Bundles with `next` links out (no HTTP).

Parameters each type declares (`patient`, `_id`, `_lastUpdated`) plus `_count`
(default 50, at most 200) and `_format`. Unknown parameters are ignored and
named in an OperationOutcome entry, as FHIR's default lenient handling asks;
with `Prefer: handling=strict` they are a 400. Pages follow a key, never an
offset: `next` carries an opaque `_cursor` and stays correct while data changes.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from urllib.parse import urlencode

from app.fhir.codes import Json
from app.fhir.context import (
    Criteria,
    FhirContext,
    Key,
    Updated,
    decode_cursor,
    encode_cursor,
    instant,
)
from app.fhir.outcome import BadRequestError, NotAcceptableError, issue, operation_outcome
from app.fhir.registry import Found, Registry, ResourceProvider

DEFAULT_COUNT = 50
MAX_COUNT = 200
MAX_VALUES = 100
MAX_ID_CHARS = 64
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
RESULT_PARAMS = ("_count", "_format", "_cursor")
EXPORT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
DATE = re.compile(
    r"(?P<prefix>[a-z]{2})?(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?P<time>T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?"
)

Params = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    criteria: Criteria
    count: int
    after: Key | None
    understood: list[tuple[str, str]] = field(default_factory=list)  # for the links
    ignored: list[str] = field(default_factory=list)


def check_format(params: Params) -> None:
    for name, value in params:
        if name == "_format" and value.split(";")[0].strip() not in JSON_FORMATS:
            raise NotAcceptableError("This server speaks JSON only (application/fhir+json).")


def parse_count(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or int(value) < 1:
        raise BadRequestError("'_count' must be a whole number from 1 (at most 200 are returned).")
    return min(int(value), MAX_COUNT)


def parse_search(provider: ResourceProvider, params: Params, *, strict: bool) -> SearchRequest:
    declared = {param.name for param in provider.search_params}
    count, after = DEFAULT_COUNT, None
    patients: set[int] | None = None
    ids: set[str] | None = None
    urls: set[str] | None = None
    updated = Updated()
    understood: list[tuple[str, str]] = []
    ignored: list[str] = []
    check_format(params)
    for name, value in params:
        if name == "_count":
            count = parse_count(value)
        elif name == "_cursor":
            after = decode_cursor(value)
            continue  # links add their own
        elif name == "_format":
            pass
        elif name == "patient" and name in declared:
            wanted = patient_ids(value)
            patients = wanted if patients is None else patients & wanted
        elif name == "_id" and name in declared:
            wanted_ids = id_values(value)
            ids = wanted_ids if ids is None else ids & wanted_ids
        elif name == "url" and name in declared:
            wanted_urls = set(values_of(value))
            urls = wanted_urls if urls is None else urls & wanted_urls
        elif name == "_lastUpdated" and name in declared:
            updated = narrow(updated, "_lastUpdated", value)
        else:
            if strict:
                raise BadRequestError(
                    f"Unknown search parameter '{name[:64]}' for {provider.resource_type}; "
                    f"supported: {', '.join(sorted(declared | set(RESULT_PARAMS)))}."
                )
            ignored.append(name[:64])
            continue
        understood.append((name, value))
    criteria = Criteria(
        patients=tuple(sorted(patients)) if patients is not None else None,
        ids=tuple(sorted(ids)) if ids is not None else None,
        urls=tuple(sorted(urls)) if urls is not None else None,
        updated=updated,
    )
    return SearchRequest(criteria, count, after, understood, ignored)


def values_of(value: str) -> list[str]:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) > MAX_VALUES:
        raise BadRequestError(f"At most {MAX_VALUES} values in one parameter.")
    return parts


def patient_ids(value: str) -> set[int]:
    """`7`, `Patient/7` or `<base>/Patient/7`; anything else matches no patient."""
    found = set()
    for part in values_of(value):
        tail = part.rsplit("/", 2)
        number = tail[-1]
        if len(tail) >= 2 and tail[-2] != "Patient":
            continue
        if number.isascii() and number.isdigit() and len(number) <= 10:
            found.add(int(number))
    return found


def id_values(value: str) -> set[str]:
    return {part for part in values_of(value) if len(part) <= MAX_ID_CHARS}


def narrow(updated: Updated, name: str, value: str) -> Updated:
    """Apply one date parameter (`ge2026-01-05`, `lt2026-02`, `2026-01-05T10:00:00Z`)."""
    match = DATE.fullmatch(value.strip())
    if match is None:
        raise BadRequestError(f"'{name}' must be a FHIR date, e.g. ge2026-01-05T00:00:00Z.")
    prefix = match["prefix"] or "eq"
    try:
        start, end = _date_range(match)
    except ValueError as exc:
        raise BadRequestError(f"'{name}' is not a real date: {value[:40]}.") from exc
    bounds = {
        "eq": (start, end),
        "ge": (start, None),
        "gt": (end, None),
        "lt": (None, start),
        "le": (None, end),
    }
    if prefix not in bounds:
        raise BadRequestError(f"'{name}' supports the prefixes eq, gt, ge, lt and le.")
    lower, upper = bounds[prefix]
    return updated.narrowed(lower, upper)


def _date_range(match: re.Match[str]) -> tuple[datetime, datetime]:
    year = int(match["year"])
    if match["month"] is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    month = int(match["month"])
    if match["day"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        return start, start + timedelta(days=monthrange(year, month)[1])
    day = datetime(year, month, int(match["day"]), tzinfo=UTC)
    if match["time"] is None:
        return day, day + timedelta(days=1)
    text = match.group(0)[len(match["prefix"] or "") :]
    whole, _, fraction = text.partition(".")
    digits = re.match(r"\d*", fraction)
    zone = fraction[len(digits.group(0)) :] if digits and fraction else ""
    if fraction:
        text = f"{whole}.{(digits.group(0) if digits else '')[:6].ljust(6, '0')}{zone}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = match["time"].count(":") == 2
    step = timedelta(microseconds=1) if fraction else timedelta(seconds=1 if seconds else 60)
    return moment.astimezone(UTC), moment.astimezone(UTC) + step


def take(found: Iterator[Found], count: int) -> tuple[list[Found], Key | None]:
    """The first `count` matches, and the key to continue after when there are more."""
    page = list(islice(found, count + 1))
    if len(page) > count:
        return page[:count], page[count - 1].key
    return page, None


def searchset(
    *,
    base: str,
    path: str,
    page: list[Found],
    next_key: Key | None,
    request: SearchRequest,
    now: datetime,
) -> Json:
    params = [*request.understood]
    if not any(name == "_count" for name, _ in params):
        params.append(("_count", str(request.count)))
    links = [{"relation": "self", "url": _url(base, path, params)}]
    if next_key is not None:
        links.append(
            {
                "relation": "next",
                "url": _url(base, path, [*params, ("_cursor", encode_cursor(next_key))]),
            }
        )
    entries: list[Json] = [
        {
            "fullUrl": f"{base}/{item.resource['resourceType']}/{item.resource['id']}",
            "resource": item.resource,
            "search": {"mode": "match"},
        }
        for item in page
    ]
    if request.ignored:
        warning = issue(
            400,
            f"Ignored unknown parameter(s): {', '.join(request.ignored)}.",
            severity="warning",
        )
        entries.append({"resource": operation_outcome(warning), "search": {"mode": "outcome"}})
    bundle: Json = {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": instant(now)},
        "type": "searchset",
        "timestamp": instant(now),
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def _url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}/{path}" + (f"?{query}" if query else "")


# ---------------------------------------------------------------------------
# Operations: Patient/{id}/$everything and Patient/$export


def type_list(value: str, registry: Registry, name: str) -> list[str]:
    wanted = values_of(value)
    unknown = [t for t in wanted if t not in registry.types]
    if unknown:
        raise BadRequestError(
            f"'{name}' names types this server does not serve: {', '.join(unknown)[:200]}; "
            f"it serves {', '.join(registry.types)}."
        )
    return wanted


def since_of(value: str) -> datetime:
    """`_since`: resources changed at or after this moment."""
    lower = narrow(Updated(), "_since", value).lower
    assert lower is not None
    return lower


def parse_everything(
    registry: Registry, params: Params, *, strict: bool
) -> tuple[SearchRequest, list[str]]:
    """`_since`, `_type`, `_count` (and the page token); the types, in registry order."""
    check_format(params)
    count, after = DEFAULT_COUNT, None
    types = list(registry.types)
    updated = Updated()
    understood: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, value in params:
        if name == "_count":
            count = parse_count(value)
        elif name == "_cursor":
            after = decode_cursor(value)
            continue
        elif name == "_type":
            types = [t for t in types if t in type_list(value, registry, "_type")]
        elif name == "_since":
            updated = updated.narrowed(lower=since_of(value))
        elif name != "_format":
            if strict:
                raise BadRequestError(
                    f"Unknown parameter '{name[:64]}' for $everything; "
                    "supported: _since, _type, _count, _format."
                )
            ignored.append(name[:64])
            continue
        understood.append((name, value))
    return SearchRequest(Criteria(updated=updated), count, after, understood, ignored), types


def everything(
    ctx: FhirContext,
    registry: Registry,
    *,
    patient_id: int,
    types: list[str],
    request: SearchRequest,
) -> Iterator[Found]:
    """The patient, then every resource about them, type by type (`(type index, *key)`)."""
    after = request.after
    if after is not None and not (isinstance(after[0], int) and len(after) >= 2):
        raise BadRequestError("'_cursor' is not a page token for $everything.")
    criteria = Criteria(patients=(patient_id,), updated=request.criteria.updated)
    for index, provider in enumerate(registry.about_patients()):
        if provider.resource_type not in types or (after is not None and index < int(after[0])):
            continue
        inner = after[1:] if after is not None and index == after[0] else None
        for found in provider.search(ctx, criteria, inner):
            yield Found((index, *found.key), found.patient_id, found.resource)


def parse_export(
    registry: Registry, params: Params, *, lenient: bool
) -> tuple[list[str], datetime | None]:
    """Bulk Data kick-off parameters: `_type`, `_since`, `_outputFormat`."""
    types = [p.resource_type for p in registry.providers]
    since = None
    for name, value in params:
        if name == "_type":
            chosen = type_list(value, registry, "_type")
            types = [t for t in types if t in chosen]
        elif name == "_since":
            since = since_of(value)
        elif name == "_outputFormat":
            if value not in EXPORT_FORMATS:
                raise BadRequestError("'_outputFormat' must be application/fhir+ndjson.")
        elif not lenient:
            raise BadRequestError(
                f"This server does not support the '{name[:64]}' export parameter; it supports "
                "_type, _since and _outputFormat (send Prefer: handling=lenient to ignore others)."
            )
    return types, since
