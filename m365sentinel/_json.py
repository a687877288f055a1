"""Decoding response bodies: orjson first, the standard library when orjson refuses the document.

Pages of 1,000 incidents and query results of 100,000+ rows are the SDK's hot path; orjson decodes them about
3x faster than ``json``. It is stricter, so a document it refuses (``NaN``/``Infinity``, integers beyond 64 bits,
lone surrogates) is decoded again by ``json``: both paths accept exactly what ``json.loads`` accepts, except
nesting deeper than the interpreter's recursion limit, which is refused as not JSON (``json`` would raise
RecursionError, an untyped error every caller would let escape).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["loads"]

_fast = orjson.loads


def loads(data: bytes | bytearray | str) -> Any:
    """Decode one JSON document. Raises ValueError (``json.JSONDecodeError``) when it is not JSON."""
    try:
        return _fast(data)
    except orjson.JSONDecodeError:
        try:
            return json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None
