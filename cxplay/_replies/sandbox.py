"""The Jinja sandbox replies render in, with limits on size as well as on access.

Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment` stops a fragment from reaching
Python's internals, but not from exhausting memory or time: ``{{ 'a' * 100000000 }}``
renders 100 MB, ``{% for x in range(100000000) %}`` loops for minutes. A reply is a few
paragraphs, so :class:`ReplyEnvironment` refuses, with a :class:`SizeError`:

* a ``range()`` longer than :data:`MAX_RANGE` items;
* a string, list or number a fragment builds that is bigger than :data:`MAX_VALUE`
  (``*``, ``**``, ``%``, ``+``; ``center``/``ljust``/``rjust``/``zfill``/``expandtabs``
  widths; format widths in ``format``, ``%`` and ``str.format``);
* rendered output longer than :data:`MAX_OUTPUT` characters (:func:`render_capped` counts
  while the template streams, so the limit holds before the text is in memory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["MAX_OUTPUT", "MAX_RANGE", "MAX_VALUE", "ReplyEnvironment", "SizeError", "render_capped"]

#: The most items a ``range()`` in a fragment may have.
MAX_RANGE = 10_000
#: The longest string or list a fragment may build, and the widest format width.
MAX_VALUE = 100_000
#: The most characters one fragment may render.
MAX_OUTPUT = 100_000
#: The most bits an integer a fragment computes may have (``10 ** 1000`` is fine).
_MAX_BITS = 10_000

# A width or precision in a %-format or a format spec: "%100000000s", "{:>100000000}".
_WIDTH = re.compile(r"(?:%[-#0 +]*|:[^{}]*?)(\d{6,})")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class SizeError(SecurityError):
    """A fragment would build or render more than a reply ever needs."""


def _too_big(what: str, size: int, limit: int) -> SizeError:
    return SizeError(f"{what} of {size:,} is more than the sandbox allows ({limit:,})")


def _check_format(text: Any) -> None:
    if isinstance(text, str):
        match = _WIDTH.search(text)
        if match is not None and int(match.group(1)) > MAX_VALUE:
            raise _too_big("a format width", int(match.group(1)), MAX_VALUE)


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE:
        raise _too_big("a value", len(value), MAX_VALUE)
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        raise _too_big("a number of bits", value.bit_length(), _MAX_BITS)
    return value


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _too_big("a range", len(numbers), MAX_RANGE)
    return numbers


class ReplyEnvironment(SandboxedEnvironment):
    """The sandbox for reply fragments: StrictUndefined, no autoescape, size limits."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.globals["range"] = _range
        for name in ("center", "indent", "wordwrap"):
            self.filters[name] = self._width_checked(self.filters[name])
        self.filters["format"] = self._format_checked(self.filters["format"])

    @staticmethod
    def _width_checked(function: Callable[..., Any]) -> Callable[..., Any]:
        def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
            for width in (*args, *kwargs.values()):
                if isinstance(width, int) and not isinstance(width, bool) and width > MAX_VALUE:
                    raise _too_big("a width", width, MAX_VALUE)
            return _sized(function(value, *args, **kwargs))

        return checked

    @staticmethod
    def _format_checked(function: Callable[..., Any]) -> Callable[..., Any]:
        def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
            _check_format(value)
            return _sized(function(value, *args, **kwargs))

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``%`` and ``+``, refusing results bigger than a reply needs."""
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                size = len(sequence) * times if isinstance(times, int) else 0
                if isinstance(sequence, str | list | tuple) and size > MAX_VALUE:
                    raise _too_big("a repeated value", size, MAX_VALUE)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * max(abs(left).bit_length(), 1) > _MAX_BITS:
                raise _too_big("a power's bits", right * abs(left).bit_length(), _MAX_BITS)
        elif operator == "%":
            _check_format(left)
        return _sized(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` in the sandbox, refusing format widths over :data:`MAX_VALUE`."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped

    def call(
        self, __context: Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:  # names as in SandboxedEnvironment.call
        """A call, with the padding methods of strings held to :data:`MAX_VALUE`."""
        if (
            isinstance(getattr(__obj, "__self__", None), str)
            and getattr(__obj, "__name__", None) in _WIDTH_METHODS
        ):
            for width in args[:1]:
                if isinstance(width, int) and width > MAX_VALUE:
                    raise _too_big("a width", width, MAX_VALUE)
        return super().call(__context, __obj, *args, **kwargs)


def render_capped(template: Template, context: Mapping[str, Any]) -> str:
    """Render, stopping as soon as the output passes :data:`MAX_OUTPUT` characters.

    Raises:
        SizeError: the fragment renders more than :data:`MAX_OUTPUT` characters.
    """
    parts: list[str] = []
    size = 0
    for part in template.generate(context):
        size += len(part)
        if size > MAX_OUTPUT:
            raise SizeError(
                f"the fragment renders more than {MAX_OUTPUT:,} characters; a reply is a "
                "few paragraphs"
            )
        parts.append(part)
    return "".join(parts)
