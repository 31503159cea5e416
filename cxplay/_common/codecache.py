"""Python code that libraries compile from text while a command imports, kept compiled.

Two things in the standard library compile Python source at run time, at every start:

* ``dataclasses`` writes each dataclass's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``
  (and a frozen one's ``__setattr__`` / ``__delattr__``) as text and runs it with ``exec``;
* ``typing.ForwardRef`` compiles each annotation given as a string.

A cold ``cxplay suggest`` did this ~375 times for ~80 dataclasses (pydantic's,
annotated_types' and cxplay's own) and ~820 times for the string annotations of
``pydantic_core.core_schema``'s TypedDicts: ~250 M instructions, about a fifth of the whole
command, parsing and compiling the same texts at every start.

Within :func:`kept` (``cxplay suggest`` and ``explain``, unless ``--no-cache``), the module
global ``exec`` of :mod:`dataclasses` and ``compile`` of :mod:`typing` are stand-ins that
look the text up in a table of code objects kept in ``<cache dir>/code/`` (marshalled, as a
``.pyc`` keeps code) and compile it only when it is not there; the builtins are used for
anything else (a code object, another mode, other flags). The table's key is the text
itself, so an entry can only ever be the code of that very text: what generates the text
(a library's version) does not matter, and the file is named by Python's version, bytecode
magic and optimisation level (the marshal format and the bytecode are Python's). A text is
compiled exactly as the builtin called by the library would: ``dont_inherit=True`` gives the
flags of a module without ``from __future__`` imports, which both are (a test holds it). The
table is written (all at once, atomically, checksummed like every entry,
:mod:`cxplay._common.cache`) only when the block compiled something new; one that does not
check or does not unmarshal or that holds anything but texts and their code is ignored and
rebuilt.

The stand-ins are removed when the block ends, also when it fails: outside it the libraries
call the builtins as before.

cxplay's own generated code (the durable backend's fact builders, 12 texts for the shipped
playbooks, ~15 M instructions to compile) asks :func:`code` for its code object: the same
table while a block runs, the builtin ``compile`` otherwise.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import marshal
import sys
import types
from collections.abc import Iterator
from importlib._bootstrap_external import MAGIC_NUMBER
from pathlib import Path
from typing import Any

from cxplay._common import cache

__all__ = ["KEEP_CODE", "code", "kept", "table_path"]

#: Texts kept in the table: past this, only the ones the last command used are kept.
KEEP_CODE = 16384

#: The module globals the stand-ins take the place of: (module, builtin's name).
_PLACES = (("dataclasses", "exec"), ("typing", "compile"))

_Key = tuple[str, str]  # (mode, source)


def table_path(where: Path) -> Path:
    """The table's file in the directory ``where``: one per Python build, bytecode and -O."""
    # -O / -OO compile asserts and docstrings away: their code is kept apart
    stamp = (
        f"python-code 1|{sys.version}|{MAGIC_NUMBER.hex()}|{sys.implementation.cache_tag}"
        f"|{sys.flags.optimize}"
    )
    return where / f"{hashlib.sha256(stamp.encode()).hexdigest()}.marshal"


class _Table:
    """The code objects by text: read on first use, written at the end when it grew."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._codes: dict[_Key, types.CodeType] | None = None
        self._used: dict[_Key, types.CodeType] = {}
        self.compiled = 0

    def code(self, source: str, mode: str) -> types.CodeType:
        codes = self._codes
        if codes is None:
            codes = self._codes = _read(self._path)
        key = (mode, source)
        code = codes.get(key)
        if code is None:
            code = builtins.compile(source, "<string>", mode, dont_inherit=True)
            codes[key] = code
            self.compiled += 1
        self._used[key] = code
        return code

    def save(self) -> None:
        if not self.compiled or self._codes is None:
            return
        table = self._codes if len(self._codes) <= KEEP_CODE else self._used
        cache.write(self._path, marshal.dumps(table))


#: The table of the :func:`kept` block that runs, if one does.
_running: list[_Table] = []


def code(source: str) -> types.CodeType:
    """The code of the module text ``source``, compiled as a module without future imports.

    From the table while a :func:`kept` block runs; compiled by the builtin otherwise.
    """
    if _running:
        return _running[-1].code(source, "exec")
    return builtins.compile(source, "<string>", "exec", dont_inherit=True)


def _read(path: Path) -> dict[_Key, types.CodeType]:
    """The table in ``path``; empty if it is missing, corrupt or holds anything but code."""
    found = cache.load(path, marshal.loads, dict)
    if found is None:
        return {}
    for key, code in found.items():
        if not (
            type(key) is tuple
            and len(key) == 2
            and key[0] in ("eval", "exec")
            and type(key[1]) is str
            and type(code) is types.CodeType
        ):
            return {}  # not a table this module wrote: rebuilt
    return found


def _exec_with(table: _Table) -> Any:
    def exec(source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> None:
        if type(source) is str and globals is not None:
            source = table.code(source, "exec")
        elif globals is None:  # exec's own default: the caller's namespaces
            caller = sys._getframe(1)
            globals, locals = caller.f_globals, caller.f_locals if locals is None else locals
        builtins.exec(source, globals, locals, **kwargs)

    return exec


def _compile_with(table: _Table) -> Any:
    def compile(
        source: Any,
        filename: Any,
        mode: str,
        flags: int = 0,
        dont_inherit: bool = False,
        optimize: int = -1,
        **kwargs: Any,
    ) -> Any:
        if (
            type(source) is str
            and filename == "<string>"
            and mode in ("eval", "exec")
            and not flags
            and optimize == -1
            and not kwargs
        ):
            return table.code(source, mode)
        # the caller is a module without future imports: inheriting nothing is the same
        return builtins.compile(source, filename, mode, flags, True, optimize, **kwargs)

    return compile


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """Within the block, text compiled by the modules of :data:`_PLACES` comes from the cache.

    Nothing is done when the cache is off (``--no-cache``, ``CXPLAY_CACHE_DIR=``) or its
    directory cannot be used.
    """
    where = cache.private_dir("code", create=True) if cache.is_on() else None
    if where is None:
        yield
        return
    table = _Table(table_path(where))
    stand_ins = {"exec": _exec_with(table), "compile": _compile_with(table)}
    placed: list[tuple[types.ModuleType, str]] = []
    try:
        for name, builtin in _PLACES:
            module = sys.modules.get(name) or __import__(name)
            if builtin in vars(module):  # someone else's: leave it alone
                continue
            setattr(module, builtin, stand_ins[builtin])
            placed.append((module, builtin))
        _running.append(table)
        yield
    finally:
        if table in _running:
            _running.remove(table)
        for module, builtin in placed:
            if vars(module).get(builtin) is stand_ins[builtin]:
                delattr(module, builtin)
    table.save()
