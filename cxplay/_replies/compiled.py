"""Reply fragments compiled by Jinja, kept in the user's cache by their text.

Jinja compiles a fragment by parsing it, generating Python source and compiling that: a
`cxplay suggest` compiles the half dozen fragments its reply uses at every start, about a
twentieth of the command's work. Within a command that turns the cache on (the CLI,
unless ``--no-cache``), the code object of a fragment that compiled is kept in
``<cache dir>/jinja/`` (marshalled, as Jinja's own bytecode cache keeps it) under a
SHA-256 of its text and of everything the code depends on: Jinja's version and file,
cxplay's code (the sandbox's code generator and filters), the environment's class,
Python's version and bytecode magic. An entry is written and checked as every cache entry
is (:mod:`cxplay._common.cache`); one that does not check, does not unmarshal or is not a
code object is compiled again. A fragment that does not compile raises as before and
leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import marshal
import sys
import types
from typing import Any

import jinja2

from cxplay._common import cache

__all__ = ["KEEP_COMPILED", "entry_name", "from_string"]

#: Compiled fragments kept: the most recently used (`cxplay validate` compiles them all).
KEEP_COMPILED = 2048

#: Writes between two prunings of the directory (a pruning lists it: not at every write).
_PRUNE_EVERY = 256
_writes = itertools.count()


@functools.cache
def _compiler_stamp() -> str:
    """What a fragment's code depends on besides its text (see above)."""
    magic = importlib.util.MAGIC_NUMBER.hex()
    return f"jinja-code 1|{cache.module_stamp(jinja2)}|{cache.code_stamp()}|{magic}|{sys.version}"


def entry_name(env: jinja2.Environment, source: str) -> str:
    """The name of the entry that keeps the code of ``source`` compiled by ``env``."""
    kind = f"{type(env).__module__}.{type(env).__qualname__}"
    digest = hashlib.sha256(f"{_compiler_stamp()}|{kind}\x00".encode())
    digest.update(source.encode("utf-8", "surrogatepass"))
    return f"{digest.hexdigest()}.code"


def _template(env: jinja2.Environment, code: types.CodeType) -> Any:
    """What ``env.from_string`` makes of the code it compiles."""
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def from_string(env: jinja2.Environment, source: str) -> Any:
    """``env.from_string(source)``; within a command, its code from the cache when kept.

    Raises what ``env.from_string`` raises (``TemplateSyntaxError``, ...).
    """
    where = cache.private_dir("jinja", create=True) if cache.is_on() else None
    if where is None:
        return env.from_string(source)
    entry = where / entry_name(env, source)
    found = cache.load(entry, marshal.loads, types.CodeType)  # corrupt: compiled again
    if found is not None:
        return _template(env, found)
    code = env.compile(source)
    cache.write(entry, marshal.dumps(code))
    if next(_writes) % _PRUNE_EVERY == 0:
        cache.prune(where, KEEP_COMPILED)
    return _template(env, code)
