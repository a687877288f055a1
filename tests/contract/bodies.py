"""Validate request bodies the SDK sends against JSON Schemas curated once from the reference definitions.

Usage in any test: ``from tests.contract.bodies import validate_body; validate_body("mtp_data_connector", body)``.

Schemas live in ``tests/contract/schemas/<name>.json`` (each names its source in ``$comment``); ``$ref``s are
inlined and ``x-ms-enum`` ``modelAsString`` enums are left open (any string). Names: see ``SCHEMA_NAMES``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

__all__ = ["SCHEMA_NAMES", "InvalidBodyError", "load_schema", "validate_body"]

_DIR = Path(__file__).parent / "schemas"
SCHEMA_NAMES = tuple(sorted(p.stem for p in _DIR.glob("*.json")))


class InvalidBodyError(AssertionError):
    """A request body does not match its schema; the message lists every violation with its JSON path."""


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    path = _DIR / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no body schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name), format_checker=jsonschema.FormatChecker())


def validate_body(name: str, body: Any) -> None:
    """Raise ``InvalidBodyError`` unless ``body`` (decoded JSON) matches schema ``name``."""
    errors = sorted(_validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {e.json_path}: {e.message}" for e in errors]
        raise InvalidBodyError(f"request body does not match schema {name!r}:\n" + "\n".join(lines))
