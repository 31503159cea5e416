"""Reading an incident's bytes answers as the code it replaced did (kept here as reference).

``_decode`` now tries the C UTF-8 codec first (then drops one BOM), and ``_parse`` decodes
JSON with a decoder made once; both must give the same text, the same mapping and, for a
document they refuse, the same one-line error as ``raw.decode("utf-8-sig")`` and
``json.loads(text, parse_constant=...)`` gave.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._incidents import _decode, _parse, _reject_constant, parse_incident
from cxplay.errors import IncidentError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "incidents").glob("*.json"))


def _decode_before(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IncidentError(f"{name}:{line}: not valid UTF-8 (byte {exc.start})") from None


def _parse_before(text: str, name: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise IncidentError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise IncidentError(f"{name}: invalid JSON: {exc}") from None
    except RecursionError:
        raise IncidentError(f"{name}: invalid incident: nested too deeply") from None


def _outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", function(*args)
    except IncidentError as exc:
        return "error", str(exc)


def _same(raw: bytes) -> None:
    decoded = _outcome(_decode, raw, "<request>")
    assert decoded == _outcome(_decode_before, raw, "<request>")
    if decoded[0] == "ok":
        text = decoded[1]
        now = _outcome(_parse, text, "<request>", "json")
        before = _outcome(_parse_before, text, "<request>")
        assert now == before
        if now[0] == "ok":  # the same types too (1 and 1.0 are equal)
            assert json.dumps(now[1]) == json.dumps(before[1])


TRICKY = [
    b"",
    b"\xef\xbb\xbf",
    b'\xef\xbb\xbf{"id": "A"}',
    b'\xef\xbb\xbf\xef\xbb\xbf{"id": "A"}',  # a second BOM: json.loads refuses it
    b'{"id": "\xff"}',
    b'\xef\xbb\xbf{"id": "\xc3"}',
    b'{"a": NaN}',
    b'{"a": -Infinity}',
    b'{"a": 1e400, "b": -0.0, "c": 0.1, "d": 12345678901234567890}',
    b'{"a": 1, "a": 2}',
    b'{"a": "\\ud800"}',
    b'{"a": "tab\there"}',
    b"[1, 2]",
    b'{"a": [1, {"b": null}]} x',
    b"  \n{}\n ",
    b"{" * 3 + b"}" * 3,
    b"[" * 5000 + b"]" * 5000,
    # pydantic-core's parser first (_incidents._json): what it reads must be what json reads
    b'{"a": "\\ud83d\\ude00", "b": "\\udc00\\ud800", "c": "\\u0000\\/\\b\\f\\n\\r\\t"}',
    b'{"a": 0.1000000000000000055511151231257827021181583404541015625, "b": 2.2250738585072011e-308}',
    b'{"a": 1E+2, "b": 1e-400, "c": -0, "d": [-0.0, 0e0, 1.5E-3], "e": 9007199254740993}',
    b'{"a": 1, "b": 2, "a": 3, "c": {"x": 1, "x": [1]}}',
    b'{"a": ' + b"7" * 4300 + b"}",
    b'{"a": ' + b"7" * 4301 + b"}",
    b'{"a": ' + b"[" * 199 + b"]" * 199 + b"}",
    b'{"a": ' + b"[" * 201 + b"]" * 201 + b"}",
    b'\t\r\n {"a": [ 1 , 2 ] } \r\n',
    b'{"a": [1,]}',
    b'{"a": 01}',
    b'{"a": 1.}',
    b'{"a": .5}',
    b'{"a": +1}',
    b'{"a": "\x7f\xc2\x80\xe2\x80\xa8"}',
    b'{"a": "\x1f"}',
    b'{"a": tru}',
    b'{"a": Infinity1}',
    b'{"a": -NaN}',
    b"{'a': 1}",
]


def test_the_examples_and_tricky_documents_read_as_before() -> None:
    for raw in [path.read_bytes() for path in EXAMPLES] + TRICKY:
        _same(raw)
    assert parse_incident(EXAMPLES[0].read_bytes(), fmt="json") == json.loads(
        EXAMPLES[0].read_bytes()
    )


def test_a_text_with_a_lone_surrogate_reads_as_before() -> None:
    text = '{"id": "\ud800"}'  # a str source: no UTF-8 behind it
    assert _outcome(_parse, text, "<x>", "json") == _outcome(_parse_before, text, "<x>")
    assert parse_incident(text, fmt="json") == {"id": "\ud800"}


def test_a_lower_digit_limit_is_json_s() -> None:
    """A number json refuses for its digits is refused, whatever the limit is set to."""
    before = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(640)
        for digits in (639, 640, 641, 700):
            _same(b'{"a": ' + b"9" * digits + b"}")
    finally:
        sys.set_int_max_str_digits(before)


_NUMBER = st.from_regex(
    r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NUMBER | st.floats().map(repr), min_size=1, max_size=6))
def test_numbers_read_as_json_reads_them(numbers: list[str]) -> None:
    """Ints, floats, exponents, digits beyond a double's: the same values, bit for bit."""
    _same(('{"n": [' + ", ".join(numbers) + "]}").encode())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from([b"", b"\xef\xbb\xbf"]), st.binary(max_size=3), st.integers(0, 40))
def test_generated_documents_read_as_before(value: Any, bom: bytes, noise: bytes, cut: int) -> None:
    raw = bom + json.dumps({"v": value}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    _same(raw)
    _same(raw[:cut] + noise + raw[cut:])  # broken documents: the same errors
