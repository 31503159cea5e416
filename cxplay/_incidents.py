"""Reading an incident: a JSON or TOML document from a file, a stream or bytes.

The CLI reads ``cxplay suggest FILE|-`` with :func:`read_incident`; a service that receives
a request body calls :func:`parse_incident`. Both return the raw mapping; validating it is
the engine's job (:meth:`cxplay.Engine.suggest` raises :class:`~cxplay.errors.IncidentError`
with every problem). Every failure here is an :class:`~cxplay.errors.IncidentError` of one
line naming the source (``incident.json:3:14: invalid JSON: ...``), never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from os import PathLike
from pathlib import Path
from typing import IO, Any, Literal

from pydantic_core import from_json

from cxplay._common.files import read_bytes
from cxplay._common.toml import parse_toml
from cxplay.errors import CxplayError, IncidentError, LoadError

__all__ = ["MAX_INCIDENT_BYTES", "in_file", "parse_incident", "read_incident"]

#: An incident is a small document; anything bigger is refused before parsing.
MAX_INCIDENT_BYTES = 1 << 20

Format = Literal["json", "toml"]

#: More than an incident can hold: its own fields and 200 facts of up to 100 items. A JSON
#: document with more keys, objects or values is refused before it is parsed, because
#: parsing builds one object per value in one call that holds the interpreter (85,000 keys:
#: 50 ms of a service's event loop), and an error would then name each of them.
MAX_KEYS = 1_000
MAX_OBJECTS = 100
MAX_VALUES = 25_000


def _too_big(raw: bytes, toml: bool = False) -> str | None:
    """Why a JSON (or TOML) document holds more than an incident can, else None.

    Linear and in C: when the raw counts of ``:`` (TOML: ``=``), ``{`` or ``,`` are over
    the limits, the escaped backslashes and quotes are dropped, the rest is split at the
    quotes, and the pieces outside strings are counted again (a description may hold any
    punctuation). TOML's keys are counted by their ``=``: its tables and dotted keys hold
    fewer keys than that, so nothing an incident can hold is refused.
    """
    colon = b"=" if toml else b":"
    counts = (raw.count(colon), raw.count(b"{"), raw.count(b",") + 1)
    if counts[0] <= MAX_KEYS and counts[1] <= MAX_OBJECTS and counts[2] <= MAX_VALUES:
        return None
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(plain.split(b'"')[::2])
    if toml:  # then its 'literal strings' (an apostrophe inside "..." is gone already)
        outside = b"".join(outside.split(b"'")[::2])
    keys, objects = outside.count(colon), outside.count(b"{")
    values = outside.count(b",") + 1
    if keys > MAX_KEYS:
        return f"{keys:,} keys; an incident has at most {MAX_KEYS:,} (its fields and its facts)"
    if objects > MAX_OBJECTS:
        return (
            f"{objects:,} objects; an incident has a few (customer, order, event, facts), "
            "and a fact is text, a number, a boolean or a list of those"
        )
    if values > MAX_VALUES:
        return (
            f"{values:,} values; an incident holds at most {MAX_VALUES:,} "
            "(200 facts of up to 100 items each, and its own fields)"
        )
    return None


def _decode(raw: bytes, name: str) -> str:
    try:  # in C: "utf-8-sig" is a codec written in Python, ten times as slow
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass  # the same error, by the same codec as before
    else:
        return text.removeprefix("\ufeff")  # the one BOM that "utf-8-sig" drops
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IncidentError(f"{name}:{line}: not valid UTF-8 (byte {exc.start})") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number an incident may carry")


#: ``json.loads(text, parse_constant=_reject_constant)``'s decoder, made once: ``json.loads``
#: makes a decoder and its scanner on every call that passes an option (half of the time
#: the service spent parsing a request's body). ``tests/test_incidents_parse.py`` compares.
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _json(text: str) -> Any:
    """``_JSON.decode(text)``: the same value, or the same error, in half the instructions.

    pydantic-core's parser (``from_json``) builds the same objects from a document that is
    JSON (RFC 8259) at about half the cost of json's scanner (an incident: 24,500 against
    46,700 instructions). What json accepts beyond that -- NaN and Infinity (refused with
    our own words), lone surrogates in escapes -- and every document either
    refuses, pydantic-core answers with an error, and json then gives its own answer: the
    same value or the same message and position as before. A document longer than
    Python's limit on an integer's digits may hold a number json refuses for its length
    (pydantic-core reads any): json reads it. ``tests/test_incidents_parse.py`` compares.
    Only keys go to pydantic-core's process-wide string cache: a customer's values (names,
    addresses, order ids) are not kept between requests, and they rarely repeat anyway
    (the same speed as caching every string, over the shipped examples).
    """
    limit = sys.get_int_max_str_digits()
    if not limit or len(text) <= limit:
        try:
            return from_json(text, allow_inf_nan=False, cache_strings="keys")
        except ValueError:  # not JSON as RFC 8259 has it: json's own answer
            pass
        except TypeError:  # a text with a lone surrogate (no UTF-8 for it): json reads it
            pass
    return _JSON.decode(text)


def _parse(text: str, name: str, fmt: Format) -> Any:
    try:
        if fmt == "toml":
            return parse_toml(text, source=name)[0]
        if text.startswith("\ufeff"):  # what json.loads refuses before decoding
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _json(text)
    except json.JSONDecodeError as exc:
        raise IncidentError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise IncidentError(f"{name}: invalid JSON: {exc}") from None
    except LoadError as exc:
        raise IncidentError("; ".join(str(p) for p in exc.problems)) from None
    except RecursionError:
        raise IncidentError(f"{name}: invalid incident: nested too deeply") from None


def parse_incident(
    source: bytes | str, *, name: str = "<incident>", fmt: Format | None = None
) -> dict[str, Any]:
    """Parse one incident document.

    Args:
        source: the document; bytes must be UTF-8 (a leading BOM is accepted).
        name: how to call the source in errors (a path, ``<stdin>``, ``<request>``).
        fmt: ``json`` or ``toml``; ``None`` guesses: JSON when the text starts with ``{``.

    Returns:
        The incident as a mapping (not yet validated).

    Raises:
        IncidentError: larger than :data:`MAX_INCIDENT_BYTES`, not UTF-8, not JSON/TOML,
            or not an object.
    """
    size = len(source) if isinstance(source, bytes) else len(source.encode("utf-8", "replace"))
    if size > MAX_INCIDENT_BYTES:
        raise IncidentError(f"{name}: larger than {MAX_INCIDENT_BYTES // 1024} KiB")
    text = _decode(source, name) if isinstance(source, bytes) else source.removeprefix("\ufeff")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    raw = source if isinstance(source, bytes) else text.encode("utf-8", "replace")
    why = _too_big(raw, toml=fmt == "toml")
    if why is not None:
        raise IncidentError(f"{name}: {why}")
    data = _parse(text, name, fmt)
    if not isinstance(data, dict):
        raise IncidentError(f"{name}: an incident must be an object, not {type(data).__name__}")
    return data


def _read_stream(stream: IO[Any]) -> bytes:
    raw = getattr(stream, "buffer", stream).read(MAX_INCIDENT_BYTES + 1)
    if isinstance(raw, str):  # a text stream without bytes underneath (replaced in-process)
        return raw.encode("utf-8", "surrogateescape")
    return bytes(raw)


def read_incident(source: str | PathLike[str] | IO[Any]) -> dict[str, Any]:
    """Read one incident from a JSON or TOML file, from stdin (``"-"``) or from a stream.

    A ``.json`` or ``.toml`` file is read as such; stdin, streams and other names are JSON
    when they start with ``{``, else TOML. At most :data:`MAX_INCIDENT_BYTES` are read.

    Example:
        >>> read_incident("examples/incidents/parcel_damaged.json")["type"]  # doctest: +SKIP
        'parcel_damaged'

    Raises:
        IncidentError: unreadable, too large, not UTF-8, not JSON/TOML, or not an object.
    """
    fmt: Format | None = None
    if isinstance(source, str | PathLike):
        if str(source) == "-":
            return parse_incident(_read_stream(sys.stdin), name="<stdin>")
        path = Path(source)
        name = str(source)
        raw = read_bytes(
            path,
            what="incident file",
            fail=lambda reason: IncidentError(f"{name}: {reason}"),
            limit=MAX_INCIDENT_BYTES,
        )
        suffix = path.suffix.lower()
        if suffix in (".json", ".toml"):
            fmt = "json" if suffix == ".json" else "toml"
        return parse_incident(raw, name=name, fmt=fmt)
    return parse_incident(_read_stream(source), name=str(getattr(source, "name", "<stream>")))


def in_file(error: IncidentError, source: str) -> IncidentError:
    """An incident error named after the file it was read from, with the line for TOML.

    ``invalid incident: order.currency: unknown currency 'BTC' ...`` becomes
    ``incident.toml:4: invalid incident: order.currency: ...``: the line of the first key
    the message names (a JSON file is named without a line).

    Args:
        error: what :meth:`cxplay.Engine.suggest` raised for the incident.
        source: the file the incident was read from (``-``, stdin, is not named).
    """
    message = str(error)
    if source == "-":  # the same words as the service answers a request body with
        return error
    line = None
    if source.lower().endswith(".toml"):
        key = message.removeprefix("invalid incident: ").split(": ", 1)[0]
        with contextlib.suppress(CxplayError, OSError, UnicodeDecodeError):
            text = Path(source).read_bytes()[: MAX_INCIDENT_BYTES + 1].decode("utf-8-sig")
            line = parse_toml(text, source=source)[1].line(tuple(key.split(".")))
    where = f"{source}:{line}" if line is not None else source
    return IncidentError(f"{where}: {message}")
