"""Caller input checks shared by every entry point (pure, no I/O).

Every string that goes into a URL, header, request body or KQL text passes ``check_text`` where it enters the SDK,
so a bad one raises ``InvalidInputError`` (naming the value and the expected form) before any request, instead of
a ``UnicodeEncodeError`` from the HTTP layer after earlier requests went out. Refused: lone surrogates (not
encodable as UTF-8) and control characters (C0, DEL, C1); free text (``multiline=True``: comments, descriptions,
KQL) keeps tab, line feed and carriage return.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import InvalidInputError
from ._lazy import LazyPattern

__all__ = ["check_callable", "check_int", "check_json", "check_number", "check_text", "check_texts"]

_CONTROL = LazyPattern(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = LazyPattern(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(
    value: object, what: str, *, expected: str = "text", multiline: bool = False, empty: bool = False
) -> str:
    """``value`` if it is a ``str`` fit to send, else InvalidInputError naming it and ``expected``.

    ``multiline``: tab, LF and CR allowed (free text); ``empty``: an empty or blank string allowed."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what}={_show(value)}: expected {expected} (a str)")
    bad = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if bad is not None:
        kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise InvalidInputError(
            f"{what}={_show(value)} contains {kind} ({bad.group()!r} at {bad.start()}); expected {expected}"
        )
    if not empty and not value.strip():
        raise InvalidInputError(f"{what}={_show(value)}: expected {expected}, not an empty or blank string")
    return value


def check_texts(values: object, what: str, *, expected: str = "text") -> tuple[str, ...]:
    """A bare string is one value, never its characters; otherwise an iterable of strings (at least one),
    each passing ``check_text``; duplicates dropped, order kept."""
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, Iterable) or isinstance(values, bytes | bytearray | Mapping):
        raise InvalidInputError(f"{what}={_show(values)}: expected {expected} or an iterable of them")
    items = tuple(values)
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise InvalidInputError(f"{what}: expected non-empty strings, got {_show(items)}")
    return tuple(dict.fromkeys(check_text(v, what, expected=expected) for v in items))


def check_int(value: object, what: str, low: int, high: int) -> int:
    """An ``int`` (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{what}={_show(value)}: expected an integer from {low} to {high}")
    return value


def check_callable(value: object, what: str, arity: int, expected: str) -> Any:
    """A callable that can be called with ``arity`` positional arguments, so that a callback the SDK would call
    wrongly (``int`` as ``progress(done, total, result)``) is refused here rather than raising a TypeError mid-run.
    Callables whose signature Python cannot read (``time.sleep``) are taken as given, except builtin classes."""
    if not callable(value):
        raise InvalidInputError(f"{what}={_show(value)}: expected {expected}")
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        if isinstance(value, type):
            raise InvalidInputError(f"{what}={_show(value)}: a class, expected {expected}") from None
        return value
    try:
        signature.bind(*([None] * arity))
    except TypeError:
        raise InvalidInputError(
            f"{what}={_show(value)}: cannot be called with {arity} argument(s); expected {expected}"
        ) from None
    return value


def check_number(value: object, what: str, low: float, high: float) -> float:
    """A finite ``int``/``float`` (not a bool) in ``[low, high]``, as a float."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidInputError(f"{what}={_show(value)}: expected a finite number from {low:g} to {high:g}")
    return float(value)


def check_json(value: Any, what: str, _depth: int = 0) -> Any:
    """``value`` if it is a JSON value fit to send: mappings with text keys, lists/tuples, text (``check_text``,
    multiline), finite numbers, booleans, None; else InvalidInputError naming the part that is not."""
    if _depth > 32:
        raise InvalidInputError(f"{what}: nested deeper than 32 levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_text(value, what, multiline=True, empty=True)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"{what}={value!r}: JSON has no NaN or infinity")
        return value
    if isinstance(value, Mapping):
        for k, v in value.items():
            check_text(k, f"{what} key", expected="a JSON key")
            check_json(v, f"{what}[{k!r}]", _depth + 1)
        return value
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_json(v, f"{what}[{i}]", _depth + 1)
        return value
    raise InvalidInputError(f"{what}={_show(value)}: expected a JSON value (dict, list, str, number, bool, None)")


def _show(value: object) -> str:
    """``repr`` cut to 200 characters (an error message stays readable whatever the caller passed)."""
    try:
        text = repr(value)
    except Exception:  # a caller's object whose __repr__ raises
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."
