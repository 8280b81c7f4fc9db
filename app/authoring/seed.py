"""Reading authored content from `seed/` (YAML) into a validated bundle.

Layout: `conditions.yaml` (a `conditions:` list), `exercises/*.yaml` (each an
`exercises:` list) and `programs/*.yaml` (one program per file). Every file is
checked before anything is written; problems name the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.authoring.report import ContentError
from app.catalog.schemas import ContentBundle


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContentError([f"{path.name}: cannot be read: {exc}"]) from exc


def _list_under(path: Path, key: str, problems: list[str]) -> list[Any]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.append(f"{path.name}: expected a mapping with a '{key}' list")
        return []
    return list(data[key])


def _describe(error: ValidationError, prefix: str) -> list[str]:
    return [
        f"{prefix}: {'.'.join(str(part) for part in err['loc'][2:])}: {err['msg']}"
        for err in error.errors()
    ]


def read_content_dir(folder: Path) -> ContentBundle:
    """Read and validate every content file under `folder`.

    Raises ContentError listing every problem found, so one run shows them all.
    """
    if not folder.is_dir():
        raise ContentError([f"{folder}: no such content folder"])
    problems: list[str] = []
    raw: dict[str, list[tuple[str, Any]]] = {"conditions": [], "exercises": [], "programs": []}
    conditions_file = folder / "conditions.yaml"
    if conditions_file.exists():
        raw["conditions"] = [
            (conditions_file.name, item)
            for item in _list_under(conditions_file, "conditions", problems)
        ]
    for path in sorted((folder / "exercises").glob("*.y*ml")):
        relative = f"exercises/{path.name}"
        raw["exercises"] += [(relative, item) for item in _list_under(path, "exercises", problems)]
    for path in sorted((folder / "programs").glob("*.y*ml")):
        raw["programs"].append((f"programs/{path.name}", _read_yaml(path)))

    items: dict[str, list[Any]] = {key: [] for key in raw}
    for key, entries in raw.items():
        for index, (origin, item) in enumerate(entries):
            try:
                validated = ContentBundle.model_validate({key: [item]})
            except ValidationError as exc:
                slug = item.get("slug", f"#{index}") if isinstance(item, dict) else f"#{index}"
                problems += _describe(exc, f"{origin} ({slug})")
                continue
            items[key] += getattr(validated, key)
    if problems:
        raise ContentError(problems)
    return ContentBundle.model_construct(
        conditions=items["conditions"], exercises=items["exercises"], programs=items["programs"]
    )
