"""The shared input validator (m365sentinel/_inputs.py): what it refuses and what it lets through."""

from __future__ import annotations

import math
import time

import pytest

from m365sentinel import InvalidInputError
from m365sentinel._inputs import check_callable, check_json, check_text, check_texts


@pytest.mark.parametrize(
    ("value", "multiline", "message"),
    [
        ("a\ud800", False, "lone surrogate"),
        ("a\x00", True, "control character"),
        ("a\x7f", True, "control character"),
        ("a\x85", True, "control character"),
        ("a\nb", False, "control character"),
        ("", False, "what='': expected text, not an empty or blank string"),
        (None, False, r"what=None: expected text \(a str\)"),
        (b"x", False, r"what=b.x.: expected text \(a str\)"),
    ],
    ids=repr,
)
def test_check_text_refuses(value, multiline, message):
    with pytest.raises(InvalidInputError, match=message):
        check_text(value, "what", multiline=multiline)


def test_check_text_keeps_tab_and_newlines_in_free_text_and_any_printable_unicode():
    assert check_text("line 1\n\tline 2\r\n", "comment", multiline=True) == "line 1\n\tline 2\r\n"
    assert check_text("Zoë 😀 \u202e", "title") == "Zoë 😀 \u202e"


def test_check_texts_takes_a_bare_string_as_one_value():
    assert check_texts("VIP", "labels") == ("VIP",)
    assert check_texts(["a", "b", "a"], "labels") == ("a", "b")
    with pytest.raises(InvalidInputError):
        check_texts(None, "labels")


def test_check_json_refuses_what_json_cannot_carry():
    assert check_json({"a": [1, 2.5, None, True, "x\ny"]}, "body") == {"a": [1, 2.5, None, True, "x\ny"]}
    for bad in ({"a": math.nan}, {1: "x"}, {"a": object()}, {"a": "\ud800"}):
        with pytest.raises(InvalidInputError):
            check_json(bad, "body")


@pytest.mark.parametrize(
    ("value", "arity", "message"),
    [
        (int, 3, "a class, expected"),  # no readable signature: a builtin class is no callback
        (len, 3, "cannot be called with 3 argument"),
        (lambda: None, 1, "cannot be called with 1 argument"),
        (5, 0, "expected the callback"),
    ],
)
def test_check_callable_refuses_what_would_raise_a_type_error_when_called(value, arity, message):
    with pytest.raises(InvalidInputError, match=message):
        check_callable(value, "cb", arity, "the callback")


def test_check_callable_takes_callables_python_cannot_inspect_and_defaults():
    assert check_callable(time.sleep, "sleep", 1, "x") is time.sleep  # no signature readable: taken as given
    f = lambda a, b=1, *rest: None  # noqa: E731
    assert check_callable(f, "cb", 3, "x") is f
