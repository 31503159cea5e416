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
  while the template streams, so the limit holds before the text is in memory);
* a result that would grow past the limit, checked *before* it is built: ``replace``
  (filter and method), ``join`` (filter and method), ``indent`` (its width times the
  lines), format widths taken from arguments (``'%*d'``, ``'{:>{w}}'.format(w=...)``),
  and every ``~`` concatenation and filter result after it;
* more work than a reply needs: a render has a budget of :data:`MAX_STEPS` steps (each
  loop iteration, call, operator, attribute or item lookup is one) and of
  :data:`MAX_SECONDS` seconds, so three nested ``range(10000)`` loops stop at once instead
  of running for days.
"""

from __future__ import annotations

import contextvars
import operator
import re
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import BuiltinMethodType
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, nodes, pass_context, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_VALUE",
    "ReplyEnvironment",
    "Scope",
    "SizeError",
    "WorkError",
    "render_capped",
    "scope_of",
]

#: The most items a ``range()`` in a fragment may have.
MAX_RANGE = 10_000
#: The longest string or list a fragment may build, and the widest format width.
MAX_VALUE = 100_000
#: The most characters one fragment may render.
MAX_OUTPUT = 100_000
#: The most bits an integer a fragment computes may have (``10 ** 1000`` is fine).
_MAX_BITS = 10_000
#: The most steps one render may take (the longest shipped fragment takes a few hundred).
MAX_STEPS = 200_000
#: The most seconds one render may take, steps or not.
MAX_SECONDS = 2.0

# A width or precision in a %-format or a format spec: "%100000000s", "{:>100000000}".
_WIDTH = re.compile(r"(?:%[-#0 +]*|:[^{}]*?)(\d{6,})")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class SizeError(SecurityError):
    """A fragment would build or render more than a reply ever needs."""


class WorkError(SizeError):
    """A fragment takes more steps or time to render than a reply ever needs."""


class _Budget:
    """What is left of one render's steps, and when its time is up.

    One budget serves a thread's renders one after the other (:func:`render_capped`
    starts it afresh for each and leaves it idle after): setting a context variable per
    render cost a fifth of an empty fragment's render. Idle, it has steps it cannot run
    out of and no deadline, so a step charged outside a render limits nothing, as with no
    budget at all. It belongs to the thread that made it: a context copied into another
    thread (``copy_context().run`` in a thread pool) makes its own there.
    """

    __slots__ = ("busy", "deadline", "steps", "thread")

    def __init__(self) -> None:
        self.steps = _IDLE_STEPS
        self.deadline = _NO_DEADLINE
        self.busy = False  # a render is running on it (a render inside shares it)
        self.thread = threading.get_ident()


#: An idle budget's steps: more than any process charges (a step is a Python call).
_IDLE_STEPS = 1 << 62
_NO_DEADLINE = float("inf")

_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "cxplay_render_budget", default=None
)


def _charge(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps -= steps
    if budget.steps < 0:
        raise WorkError(
            f"the fragment takes more than {MAX_STEPS:,} steps to render; a reply needs a few "
            "hundred"
        )
    if budget.steps % 1024 == 0 and time.monotonic() > budget.deadline:
        raise WorkError(f"the fragment takes more than {MAX_SECONDS:g} s to render")


def _steps(iterable: Iterable[Any]) -> Iterator[Any]:
    """A loop's items, one step each (every ``{% for %}`` iterates through this)."""
    for item in iterable:
        _charge()
        yield item


def _predict(what: str, size: int) -> None:
    if size > MAX_VALUE:
        raise _too_big(what, size, MAX_VALUE)


def _replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        times = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        _predict("a replaced text", len(text) + times * (len(new) - len(old)))


def _join_size(separator: Any, items: Any) -> None:
    if isinstance(items, list | tuple) and isinstance(separator, str):
        size = max(len(items) - 1, 0) * len(separator)
        size += sum(len(i) if isinstance(i, str) else 20 for i in items)
        _predict("a joined text", size)


def _star_widths(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Widths and precisions a format takes from its arguments: ``'%*d'``, ``'{:{w}}'``."""
    if not isinstance(text, str) or not ("*" in text or re.search(r"\{[^{}]*\{", text) is not None):
        return
    values: list[Any] = [*args, *kwargs.values()]
    for value in list(values):
        if isinstance(value, tuple | list):
            values.extend(value)
        elif isinstance(value, Mapping):
            values.extend(value.values())
    for value in values:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and abs(value) > MAX_VALUE:
            raise _too_big("a format width", int(abs(value)), MAX_VALUE)


class _Generator(CodeGenerator):
    """Jinja's code generator with every ``~`` concatenation's result checked."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")


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


def _attr_filter(jinja: Callable[..., Any], *, keep: bool) -> Callable[..., Any]:
    """Jinja's ``selectattr`` (``keep``) or ``rejectattr``, quicker for ``('key', 'equalto', x)``.

    The form every shipped fragment uses: each item's ``key`` is looked up as Jinja's
    attribute getter does (the sandbox's ``getitem``, one step) and compared by the
    ``equalto`` test (``operator.eq``), lazily, as Jinja's generator does; any other form
    (a dotted or numeric key, another test, keyword arguments) is Jinja's own filter.
    """

    @pass_context
    def attr_filter(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        environment = context.environment
        if (
            not kwargs
            and len(args) == 3
            and type(args[0]) is str
            and type(args[1]) is str
            and args[1] == "equalto"
            and "." not in args[0]
            and not args[0].isdigit()
            and environment.tests.get("equalto") is operator.eq
        ):
            return _equal_items(environment, value, args[0], args[2], keep)
        return jinja(context, value, *args, **kwargs)

    return attr_filter


def _equal_items(
    environment: Environment, value: Any, key: str, other: Any, keep: bool
) -> Iterator[Any]:
    if value:  # as Jinja's select_or_reject: tested when the first item is asked for
        getitem = environment.getitem
        for item in value:
            if bool(getitem(item, key) == other) is keep:
                yield item


#: What ``getattr`` finds on a plain dict: everything else on one is an item or nothing.
_DICT_ATTRIBUTES = frozenset(dir(dict))
#: A dict's public methods: the sandbox finds them safe (no underscore, not internal).
_DICT_METHODS = frozenset(name for name in _DICT_ATTRIBUTES if not name.startswith("_"))


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _too_big("a range", len(numbers), MAX_RANGE)
    return numbers


class ReplyEnvironment(SandboxedEnvironment):
    """The sandbox for reply fragments: StrictUndefined, no autoescape, size limits."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Generator

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.globals["range"] = _range
        for name in ("center", "indent", "wordwrap"):
            self.filters[name] = self._width_checked(self.filters[name])
        self.filters["format"] = self._format_checked(self.filters["format"])
        replace, join, indent = (self.filters[n] for n in ("replace", "join", "indent"))

        def replace_checked(ctx: Any, text: Any, old: Any, new: Any, count: Any = None) -> Any:
            _replace_size(str(text), old, new, -1 if count is None else count)
            return replace(ctx, text, old, new, count)

        def join_checked(ctx: Any, items: Any, d: str = "", attribute: Any = None) -> Any:
            items = list(_steps(items))
            _join_size(d, [i if isinstance(i, str) else str(i) for i in items])
            return join(ctx, items, d, attribute)

        def indent_checked(text: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
            size = len(width) if isinstance(width, str) else width
            if isinstance(size, int) and isinstance(text, str):
                _predict("an indented text", len(text) + (text.count("\n") + 1) * size)
            return indent(text, width, *args, **kwargs)

        self.filters["replace"] = pass_eval_context(replace_checked)
        self.filters["join"] = pass_eval_context(join_checked)
        self.filters["indent"] = indent_checked
        self.filters["cx_steps"] = _steps
        # Jinja's `list` answers for async environments too, testing for one on every call
        self.filters["list"] = list
        self.filters["selectattr"] = _attr_filter(self.filters["selectattr"], keep=True)
        self.filters["rejectattr"] = _attr_filter(self.filters["rejectattr"], keep=False)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The template's tree, with every ``{% for %}`` iterating through the budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "cx_steps", [], [], None, None, lineno=loop.lineno)
        return tree

    @staticmethod
    def sized(value: Any) -> Any:
        """A value a fragment built, refused when it is bigger than a reply needs."""
        return _sized(value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """An attribute lookup: one step.

        ``customer.name`` on a plain dict (what a reply's context is made of) is its item:
        Jinja tries the attribute first and falls back to the item on the AttributeError
        it raises; a dict has no attribute that ``dir(dict)`` does not list, so the item
        is looked up at once, with the same result and the same undefined when missing.
        """
        # _charge(), its common case without the call: a step off; at a limit or a time
        # check (every 1,024th step), _charge(0) raises or checks the clock as it would
        budget = _BUDGET.get()
        if budget is not None:
            budget.steps -= 1
            if budget.steps < 0 or not budget.steps % 1024:
                _charge(0)
        if type(obj) is dict:
            if attribute not in _DICT_ATTRIBUTES:
                try:
                    return obj[attribute]
                except LookupError:
                    return self.undefined(obj=obj, name=attribute)
            if attribute in _DICT_METHODS:  # answers.get(...): safe, as the sandbox finds
                return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """An item lookup: one step."""
        _charge()
        return super().getitem(obj, argument)

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
            _star_widths(value, args, kwargs)
            return _sized(function(value, *args, **kwargs))

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``%`` and ``+``, refusing results bigger than a reply needs."""
        _charge()
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    size = len(sequence) * times
                    if size > MAX_VALUE:
                        raise _too_big("a repeated value", size, MAX_VALUE)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * max(abs(left).bit_length(), 1) > _MAX_BITS:
                raise _too_big("a power's bits", right * abs(left).bit_length(), _MAX_BITS)
        elif operator == "%":
            _check_format(left)
            _star_widths(left, right if isinstance(right, tuple) else (right,), {})
        return _sized(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` in the sandbox, refusing format widths over :data:`MAX_VALUE`."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__
        _check_format(text)

        def checked(*args: Any, **kwargs: Any) -> str:
            _star_widths(text, args, kwargs)
            return str(_sized(wrapped(*args, **kwargs)))

        return checked

    def call(
        self, __context: Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:  # names as in SandboxedEnvironment.call
        """A call (one step), with what string methods build held to :data:`MAX_VALUE`."""
        _charge()
        owner = getattr(__obj, "__self__", None)
        if type(owner) is dict and type(__obj) is BuiltinMethodType:
            # a plain dict's own method (answers.get): safe to call and passed no context,
            # so the sandbox's checks and Context.call come to calling it (without the
            # loop's or block's variables Jinja passes along inside a loop or block)
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            return __obj(*args, **kwargs)
        if isinstance(owner, str):
            method = getattr(__obj, "__name__", None)
            if method in _WIDTH_METHODS:
                for width in args[:1]:
                    if isinstance(width, int) and width > MAX_VALUE:
                        raise _too_big("a width", width, MAX_VALUE)
            elif method == "replace" and len(args) >= 2:
                _replace_size(owner, *args[:3])
            elif method == "join" and args:
                items = list(_steps(args[0]))
                _join_size(owner, [i if isinstance(i, str) else "" for i in items])
                args = (items, *args[1:])
            return _sized(super().call(__context, __obj, *args, **kwargs))
        return super().call(__context, __obj, *args, **kwargs)


class Scope(dict[str, Any]):
    """A render's variables with the environment's globals merged in, built once per reply.

    :func:`render_capped` merges the globals into the variables of every render; a reply
    renders five to ten fragments from one context, so :meth:`ReplyEnvironment.scope`
    merges them once and each fragment (and :meth:`extended` for an action's) reuses it.
    Variables win over globals, as in a merge per render.
    """

    __slots__ = ("_reply", "environment", "later")

    environment: SandboxedEnvironment
    _reply: _Reply | None  # what the renders of one reply share (scope_of(..., reply=True))
    #: the caller's: what the scope is yet to hold, put in before a render reads it (None:
    #: nothing; a scope extended from this one is whole only if this one is)
    later: Any

    def extended(self, variables: Mapping[str, Any]) -> Scope:
        """This scope with more variables (which win), in the same reply."""
        return _scope(self, variables, self.environment, self._reply)

    def release(self) -> None:
        """Let go of what the reply's renders kept to use again (see :func:`scope_of`).

        The Jinja context is left to the thread's next reply, emptied: it refers to no
        scope and holds no variable (it is borrowed as new there, as it was here).
        """
        reply = self._reply
        if reply is not None:
            found = reply.context
            reply.context = None
            if found is not None:
                found.parent = {}
                if found.vars:
                    found.vars = {}
                if found.exported_vars:
                    found.exported_vars = set()
                _SPARE.context = found


class _Reply:
    """What the fragments of one reply render with, one after the other, again and again.

    A Jinja context costs about as much to make as a short fragment costs to render; each
    render starts it as a new one would start (:func:`render_capped`).
    ``fresh`` is what a new context's evaluation context holds (``EvalContext.__dict__``).
    """

    __slots__ = ("context", "fresh")

    def __init__(self, environment: SandboxedEnvironment) -> None:
        # free to use (None: none yet, or in use): the one the thread's last reply in this
        # environment left (Scope.release), else one is made by the first render
        self.context: Context | None = None
        spare = getattr(_SPARE, "context", None)
        if spare is not None and spare.environment is environment:
            _SPARE.context = None
            self.context = spare
        self.fresh = {
            "environment": environment,
            "autoescape": environment.autoescape,
            "volatile": False,
        }


#: A thread's Jinja context its last reply released, for its next reply's first fragment.
_SPARE = threading.local()


def scope_of(
    environment: SandboxedEnvironment, variables: Mapping[str, Any], *, reply: bool = False
) -> Scope:
    """``variables`` over ``environment``'s globals, for :func:`render_capped` to reuse.

    ``reply``: its renders (and those of its :meth:`Scope.extended` scopes) use one Jinja
    context and one budget again and again, each render starting them afresh; the context
    refers back to a scope, so :meth:`Scope.release` it when the reply is done (else the
    garbage collector has a cycle to find).
    """
    return _scope(
        environment.globals, variables, environment, _Reply(environment) if reply else None
    )


def _scope(
    under: Mapping[str, Any],
    variables: Mapping[str, Any],
    environment: SandboxedEnvironment,
    reply: _Reply | None,
) -> Scope:
    scope = Scope(under)
    scope.update(variables)
    scope.environment = environment
    scope._reply = reply
    scope.later = None
    return scope


def render_capped(template: Template, context: Mapping[str, Any]) -> str:
    """Render, stopping as soon as the output passes :data:`MAX_OUTPUT` characters.

    Raises:
        SizeError: the fragment renders more than :data:`MAX_OUTPUT` characters.
    """
    environment = template.environment
    if type(context) is Scope and context.environment is environment:
        reply = context._reply
        # a reply's fragment: the reply's context, borrowed as new. What a fragment writes
        # to its context is its variables, its exported names and its evaluation context
        # ({% autoescape %}): those start afresh, or, for an evaluation context that is not
        # as new, a new context is made (_render_new). The parent is the scope; the
        # environment and the name are the same for every fragment, and a fragment with
        # blocks gets a context of its own. A borrowed context is the render's until it
        # ends, so a render inside a render makes its own.
        if reply is not None and (found := reply.context) is not None:
            layers = template.globals  # ChainMap(the template's, the environment's)
            if (
                found.name == template.name
                and not template.blocks
                and type(layers) is ChainMap
                and len(maps := layers.maps) == 2
                and not maps[0]
                and maps[1] is environment.globals
                and type(autoescape := environment.autoescape) is bool
            ):
                reply.context = None
                # as new: these three keys, the environment's autoescape itself, volatile false
                state = found.eval_ctx.__dict__
                if state == reply.fresh and state["autoescape"] is autoescape:
                    found.parent = context
                    if found.vars:  # a fragment that sets nothing leaves them empty: kept
                        found.vars = {}
                    if found.exported_vars:
                        found.exported_vars = set()
                    try:
                        return _run(template, found)
                    finally:
                        reply.context = found  # free again for the reply's next fragment
    return _render_new(template, context)


def _render_new(template: Template, context: Mapping[str, Any]) -> str:
    """:func:`render_capped` with a Jinja context of its own (then the reply's, if in one)."""
    environment = template.environment
    # The context Template.generate would build, built without its three copies: it
    # flattens the globals' ChainMap key by key, copies the variables twice and sets the
    # globals' keys aside for imports (fragments have no loader to import from). Variables
    # win over globals, as there.
    layers = template.globals  # ChainMap(the template's, the environment's)
    maps = layers.maps if type(layers) is ChainMap else [layers]  # no ABC isinstance
    scope: dict[str, Any]
    reply: _Reply | None = None
    if (
        isinstance(context, Scope)
        and context.environment is environment
        and len(maps) == 2
        and not maps[0]
        and maps[1] is environment.globals
    ):
        scope = context  # merged already (Jinja never writes to a context's parent)
        # the new context is the reply's for its next fragment (render_capped borrows it)
        reply = context._reply if type(environment.autoescape) is bool else None
    elif len(maps) == 2 and not maps[0]:
        scope = {**maps[1], **context}
    else:
        scope = {}
        for layer in reversed(maps):
            scope.update(layer)
        scope.update(context)
    jinja_context = environment.context_class(environment, scope, template.name, template.blocks)
    try:
        return _run(template, jinja_context)
    finally:
        if reply is not None and not template.blocks:
            reply.context = jinja_context  # free again for the reply's next fragment


def _run(template: Template, jinja_context: Context) -> str:
    """The template's output in ``jinja_context``, within a budget and :data:`MAX_OUTPUT`."""
    # one budget per render, the thread's own started afresh; a fragment rendered inside
    # another one shares the outer one's
    budget = _BUDGET.get()
    if budget is None or budget.thread != threading.get_ident():
        budget = _Budget()
        _BUDGET.set(budget)  # kept: the thread's next renders use it again
    own = not budget.busy
    if own:
        budget.steps = MAX_STEPS
        budget.deadline = time.monotonic() + MAX_SECONDS
        budget.busy = True
    parts: list[str] = []
    size = 0
    append = parts.append
    try:
        for part in template.root_render_func(jinja_context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise SizeError(
                    f"the fragment renders more than {MAX_OUTPUT:,} characters; a reply is a "
                    "few paragraphs"
                )
            append(part)
    except Exception:
        # as Template.generate: the same exception, its traceback pointing at the fragment
        template.environment.handle_exception()
    finally:
        if own:
            budget.busy = False
            budget.steps = _IDLE_STEPS
            budget.deadline = _NO_DEADLINE
    return "".join(parts)
