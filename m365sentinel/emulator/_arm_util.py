"""Small ARM helpers: error bodies, etags, paging tokens, the incidents ``$filter``/``$orderby`` subset."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from m365sentinel.emulator._http import EmuResponse, json_response
from m365sentinel.emulator._parse import parse_datetime

__all__ = ["ArmError", "decode_token", "encode_token", "error", "page", "parse_filter", "parse_orderby"]


class ArmError(Exception):
    """Raised by handlers; becomes ``{"error": {"code", "message"}}`` with *status*."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> EmuResponse:
        return error(self.status, self.code, self.message, self.headers)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> EmuResponse:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ArmError(400, "BadRequest", f"The $skipToken '{token}' is invalid.") from exc
    if not isinstance(state, dict) or not isinstance(state.get("o"), int):
        raise ArmError(400, "BadRequest", f"The $skipToken '{token}' is invalid.")
    return state


def page(
    items: list[dict[str, Any]], *, offset: int, size: int, next_base: str, token_state: dict[str, Any]
) -> dict[str, Any]:
    """One page ``{"value": [...], "nextLink"?}``; the nextLink carries everything needed to continue."""
    body: dict[str, Any] = {"value": items[offset : offset + size]}
    if offset + size < len(items):
        token = encode_token({**token_state, "o": offset + size})
        body["nextLink"] = f"{next_base}&$skipToken={quote(token)}"
    return body


# -- incidents $filter / $orderby subset ------------------------------------------------------------

_FIELDS: dict[str, str] = {
    "properties/createdtimeutc": "createdTimeUtc",
    "properties/lastmodifiedtimeutc": "lastModifiedTimeUtc",
    "properties/firstactivitytimeutc": "firstActivityTimeUtc",
    "properties/lastactivitytimeutc": "lastActivityTimeUtc",
    "properties/providername": "providerName",
    "properties/status": "status",
    "properties/severity": "severity",
    "properties/incidentnumber": "incidentNumber",
    "properties/title": "title",
}
_TIME_FIELDS = {"createdTimeUtc", "lastModifiedTimeUtc", "firstActivityTimeUtc", "lastActivityTimeUtc"}
_CLAUSE = re.compile(
    r"^\s*(?P<field>[A-Za-z/]+)\s+(?P<op>eq|ne|ge|gt|le|lt)\s+(?P<value>datetime'[^']*'|'(?:[^']|'')*'|[^\s']+)\s*$",
    re.IGNORECASE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}

Predicate = Callable[[dict[str, Any]], bool]


def _value_of(props: dict[str, Any], field: str) -> Any:
    value = props.get(field)
    if field in _TIME_FIELDS and isinstance(value, str):
        return parse_datetime(value)
    return value


def parse_filter(text: str) -> Predicate:
    """``clause [and clause]*`` where clause = ``properties/<field> <eq|ne|ge|gt|le|lt> <literal>``.

    Literals: ``'string'``, a bare ISO datetime or ``datetime'...'`` for time fields, an integer for
    incidentNumber. Anything else raises ArmError 400 (the emulator refuses rather than guesses).
    """
    if not text.strip():
        raise ArmError(400, "BadRequest", "The $filter query parameter must not be empty.")
    clauses = re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)
    tests: list[Predicate] = []
    for clause in clauses:
        m = _CLAUSE.match(clause)
        if not m or m.group("field").lower() not in _FIELDS:
            raise ArmError(400, "BadRequest", f"Invalid $filter: unsupported expression '{clause.strip()}'.")
        field = _FIELDS[m.group("field").lower()]
        op = _OPS[m.group("op").lower()]
        raw = m.group("value")
        literal: Any
        try:
            if field in _TIME_FIELDS:
                literal = parse_datetime(raw[9:-1] if raw.lower().startswith("datetime'") else raw.strip("'"))
            elif field == "incidentNumber":
                literal = int(raw)
            elif raw.startswith("'"):
                literal = raw[1:-1].replace("''", "'")
            else:
                raise ValueError(raw)
        except ValueError as exc:
            raise ArmError(400, "BadRequest", f"Invalid $filter: bad literal {raw} for {m.group('field')}.") from exc

        def test(
            props: dict[str, Any], field: str = field, op: Callable[[Any, Any], bool] = op, literal: Any = literal
        ) -> bool:
            value = _value_of(props, field)
            return value is not None and op(value, literal)

        tests.append(test)
    return lambda props: all(t(props) for t in tests)


def parse_orderby(text: str | None) -> tuple[str, bool]:
    """``properties/<field> [asc|desc]`` -> (field, descending). Default: createdTimeUtc descending."""
    if text is None:
        return "createdTimeUtc", True
    parts = text.strip().split()
    if (
        not parts
        or len(parts) > 2
        or parts[0].lower() not in _FIELDS
        or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc"))
    ):
        raise ArmError(400, "BadRequest", f"Invalid $orderby: '{text}'.")
    return _FIELDS[parts[0].lower()], len(parts) == 2 and parts[1].lower() == "desc"


def sort_key(field: str) -> Callable[[dict[str, Any]], Any]:
    def key(resource: dict[str, Any]) -> Any:
        value = _value_of(resource.get("properties", {}), field)
        if isinstance(value, datetime):
            return (0, value.timestamp(), resource.get("name", ""))
        return (0 if value is not None else 1, value if value is not None else "", resource.get("name", ""))

    return key
