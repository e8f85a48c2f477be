"""appendix.json validates against docs/appendix-schema.json (a tiny validator for the subset used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timeline.export.write import ReportOptions, write_report
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "appendix-schema.json").read_text(encoding="utf-8"))
TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Problems of ``value`` against ``schema`` (type, enum, required, properties,
    additionalProperties: false, items, maxItems, oneOf, $ref to #/$defs)."""
    if "$ref" in schema:
        return validate(value, SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]], path)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not validate(value, s, path)]
        return [] if len(ok) == 1 else [f"{path}: matches {len(ok)} of oneOf"]
    problems: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, n) for n in names):
            return [f"{path}: {type(value).__name__} is not {names}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        problems += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            problems += [f"{path}: unexpected {k}" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                problems += validate(value[key], sub, f"{path}.{key}")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
        for i, item in enumerate(value):
            problems += validate(item, schema.get("items", {}), f"{path}[{i}]")
    return problems


def test_validator_catches_problems() -> None:
    assert validate({"schema": "x"}, SCHEMA)
    assert validate([1], {"type": "array", "items": {"type": "string"}}) == [
        "$[0]: int is not ['string']"
    ]


@pytest.mark.parametrize("scenario", ["guardrail_update", "clock_skew_forwarded_ids"])
def test_appendix_json_matches_the_schema(tmp_path: Path, scenario: str) -> None:
    outdir = tmp_path / "out"
    build(
        [str(ROOT / "fixtures" / "scenarios" / scenario / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=outdir),
    )
    write_report(outdir, ReportOptions(formats=("json",)))
    doc = json.loads((outdir / "appendix.json").read_text(encoding="utf-8"))
    assert validate(doc, SCHEMA) == []


def test_schema_is_valid_json_schema_when_jsonschema_is_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
