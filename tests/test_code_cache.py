"""Code compiled from text at import, kept in the cache: the same code as compiled, or none.

Within ``codecache.kept()`` the ``exec`` of :mod:`dataclasses` and the ``compile`` of
:mod:`typing` take a text's code from a table in the cache; the code must be what the
builtin makes of that text, a corrupt or forged table is compiled again, nothing is kept
when the cache is off, and the stand-ins are gone after the block.
"""

from __future__ import annotations
import __future__

import builtins
import dataclasses
import marshal
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._common import cache, codecache

ROOT = Path(__file__).resolve().parent.parent
PARCEL = ROOT / "examples" / "incidents" / "parcel_damaged.json"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CXPLAY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _table(where: Path) -> Path:
    return codecache.table_path(where / "code")


def _make(name: str, fields: list[tuple[str, Any]], **options: Any) -> type:
    """A new dataclass (its methods compiled from text by dataclasses)."""
    return dataclasses.make_dataclass(
        name,
        [(field, int, dataclasses.field(default=default)) for field, default in fields],
        **options,
    )


_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")


def _codes(cls: type) -> dict[str, Any]:
    return {m: vars(cls)[m].__code__ for m in _METHODS if hasattr(vars(cls).get(m), "__code__")}


def test_the_modules_given_stand_ins_compile_without_future_flags() -> None:
    # the stand-ins compile with dont_inherit=True: the same only while the callers have none
    flags = 0
    for feature in __future__.all_feature_names:
        flags |= getattr(__future__, feature).compiler_flag
    assert dataclasses._create_fn.__code__.co_flags & flags == 0  # type: ignore[attr-defined]
    assert typing.ForwardRef.__init__.__code__.co_flags & flags == 0


def test_a_dataclass_s_code_is_the_code_exec_makes(cache_dir: Path) -> None:
    fields = [("a", 1), ("b", 2)]
    plain = _make("Point", fields, frozen=True)
    with cache.enabled(), codecache.kept():
        first = _make("Point", fields, frozen=True)
    assert _table(cache_dir).is_file()
    with cache.enabled(), codecache.kept():
        second = _make("Point", fields, frozen=True)
    assert _codes(plain) and _codes(plain) == _codes(first) == _codes(second)
    assert repr(second(3)) == repr(plain(3)) == "Point(a=3, b=2)"
    assert second(3) == second(3, 2) and hash(second(3)) == hash(second(3, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        second(3).a = 4  # type: ignore[attr-defined]


def test_the_second_time_nothing_is_compiled(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = typing.ForwardRef("dict[str, list[int]] | None").__forward_code__
    with cache.enabled(), codecache.kept():
        _make("Kept", [("x", 0)], frozen=True, order=True)
        typing.ForwardRef("dict[str, list[int]] | None")
    compiled: list[str] = []
    real = builtins.compile

    def counted(source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counted)
    with cache.enabled(), codecache.kept():
        again = _make("Kept", [("x", 0)], frozen=True, order=True)
        ref = typing.ForwardRef("dict[str, list[int]] | None")
    assert compiled == []
    assert again(1) < again(2)
    assert ref.__forward_code__ == reference


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda n: n not in {"if", "in", "is", "or", "as", "for", "def", "del", "not", "and"}
        ),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    frozen=st.booleans(),
    order=st.booleans(),
    slots=st.booleans(),
)
def test_any_dataclass_is_made_as_without_the_cache(
    tmp_path_factory: pytest.TempPathFactory,
    names: list[str],
    frozen: bool,
    order: bool,
    slots: bool,
) -> None:
    where = tmp_path_factory.mktemp("cache")
    fields = [(name, index) for index, name in enumerate(names)]
    options = {"frozen": frozen, "order": order, "slots": slots}
    plain = _make("Made", fields, **options)
    os.environ["CXPLAY_CACHE_DIR"] = str(where)
    try:
        for _ in range(2):  # compiled, then from the table
            with cache.enabled(), codecache.kept():
                kept = _make("Made", fields, **options)
            assert _codes(kept) == _codes(plain)
            assert repr(kept()) == repr(plain())
    finally:
        del os.environ["CXPLAY_CACHE_DIR"]


def test_forward_references_compile_as_typing_does(cache_dir: Path) -> None:
    texts = ["int", "list[Incident]", "Literal['a', 'b']", "x.y | None"]
    with cache.enabled(), codecache.kept():
        kept = [typing.ForwardRef(t).__forward_code__ for t in texts]
        with pytest.raises(SyntaxError, match="Forward reference must be an expression"):
            typing.ForwardRef("not an expression!")
    assert kept == [typing.ForwardRef(t).__forward_code__ for t in texts]


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "not-code"])
def test_a_corrupt_or_forged_table_is_compiled_again(cache_dir: Path, damage: str) -> None:
    with cache.enabled(), codecache.kept():
        _make("Broken", [("a", 1)])
    path = _table(cache_dir)
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a cache entry at all")
    else:  # a well-formed entry whose values are not code
        table = marshal.loads(cache.read(path) or b"")
        cache.write(path, marshal.dumps(dict.fromkeys(table, 42)))
    with cache.enabled(), codecache.kept():
        remade = _make("Broken", [("a", 1)])
    assert repr(remade()) == "Broken(a=1)"
    table = marshal.loads(cache.read(path) or b"")  # rebuilt: every value is code again
    assert table and all(type(code).__name__ == "code" for code in table.values())


def test_nothing_is_placed_or_kept_when_the_cache_is_off(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with codecache.kept():  # outside a command
        assert "exec" not in vars(dataclasses)
        _make("Off", [("a", 1)])
    with cache.enabled(False), codecache.kept():  # --no-cache
        assert "exec" not in vars(dataclasses)
    monkeypatch.setenv("CXPLAY_CACHE_DIR", "")
    with cache.enabled(), codecache.kept():
        assert "compile" not in vars(typing)
    assert not cache_dir.exists()


def test_the_stand_ins_are_removed_also_when_the_block_fails(cache_dir: Path) -> None:
    with pytest.raises(RuntimeError), cache.enabled(), codecache.kept():
        assert "exec" in vars(dataclasses) and "compile" in vars(typing)
        raise RuntimeError
    assert "exec" not in vars(dataclasses) and "compile" not in vars(typing)


def test_the_table_is_bounded(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codecache, "KEEP_CODE", 3)
    with cache.enabled(), codecache.kept():
        for index in range(4):
            typing.ForwardRef(f"first_{index}")
    with cache.enabled(), codecache.kept():
        typing.ForwardRef("second")
    table = marshal.loads(cache.read(_table(cache_dir)) or b"")
    assert set(table) == {("eval", "second")}  # past the bound: only what was used


def test_the_command_fills_the_table_and_answers_the_same(tmp_path: Path) -> None:
    env = {**os.environ, "CXPLAY_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "cxplay", "suggest", str(PARCEL), "--format", "json"]
    runs = [
        subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        for _ in range(2)
    ]
    plain = subprocess.run(
        [*args, "--no-cache"], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert runs[0].stdout == runs[1].stdout == plain.stdout
    assert runs[0].stderr == runs[1].stderr == plain.stderr == ""
    table = marshal.loads(cache.read(_table(tmp_path / "cache")) or b"")
    assert sum(1 for mode, _ in table if mode == "exec") > 100  # the dataclasses' methods


_FINGERPRINT = """
import dataclasses, hashlib, marshal, sys, typing
from cxplay._common import cache, codecache
with cache.enabled(USE), codecache.kept():
    import cxplay._engine.engine, cxplay._incidents, cxplay._present
digest, classes, refs = hashlib.sha256(), 0, 0
for name in sorted(sys.modules):
    for value in list(vars(sys.modules[name]).values()):
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            classes += 1
            for method in sorted(vars(value)):
                code = getattr(vars(value)[method], "__code__", None)
                if code is not None:
                    digest.update(marshal.dumps(code))
        for hint in getattr(value, "__annotations__", {}).values() if isinstance(value, type) else ():
            if isinstance(hint, typing.ForwardRef):
                refs += 1
                digest.update(marshal.dumps(hint.__forward_code__))
print(classes, refs, digest.hexdigest())
"""


def test_every_dataclass_and_forward_reference_of_a_suggestion_is_the_same(
    tmp_path: Path,
) -> None:
    # the engine's imports in a fresh process: without the cache, filling it, from it
    env = {**os.environ, "CXPLAY_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _FINGERPRINT.replace("USE", use)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        ).stdout
        for use in ("False", "True", "True")
    ]
    classes, refs, _ = runs[0].split()
    assert int(classes) > 50 and int(refs) > 200
    assert runs[0] == runs[1] == runs[2]
    assert _table(tmp_path / "cache").is_file()


def test_code_compiled_with_o_is_kept_apart() -> None:
    show = "from pathlib import Path; from cxplay._common import codecache as c; print(c.table_path(Path('x')))"
    paths = {
        subprocess.run(
            [sys.executable, *flags, "-c", show],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
        for flags in ([], ["-O"], ["-OO"])
    }
    assert len(paths) == 3


_BUILDER = "def build(g, head, tail):\n    v0 = g(P0)\n    return f'{head}{K0}{v0}{tail}'"


def test_generated_code_is_the_builtin_s_in_and_out_of_the_block(cache_dir: Path) -> None:
    reference = builtins.compile(_BUILDER, "<string>", "exec", dont_inherit=True)
    assert codecache.code(_BUILDER) == reference  # no block: the builtin
    with cache.enabled(), codecache.kept():
        assert codecache.code(_BUILDER) == reference  # compiled, kept
    assert _table(cache_dir).is_file()
    with cache.enabled(), codecache.kept():
        kept = codecache.code(_BUILDER)  # from the table
    assert kept == reference
    namespace: dict[str, Any] = {"P0": "x", "K0": ',"x":'}
    exec(kept, namespace)
    assert namespace["build"]({"x": 1}.get, "{", "}") == '{,"x":1}'


def test_durable_s_fact_builders_are_the_same_from_the_table(cache_dir: Path) -> None:
    durable = pytest.importorskip("cxplay._engine.durable")
    if not durable.AVAILABLE:
        pytest.skip(durable.UNAVAILABLE_REASON)
    from cxplay import Engine

    incident = {"type": "parcel_damaged", "customer": {"name": "Ada"}, "facts": {}}
    plain = Engine.from_path(ROOT / "playbooks", backend="durable")
    answers = []
    for _ in range(2):  # filling the table, then from it
        with cache.enabled(), codecache.kept():
            kept = Engine.from_path(ROOT / "playbooks", backend="durable")
        answers.append(kept.evaluate(incident))
    assert answers[0] == answers[1] == plain.evaluate(incident)
    assert (
        sum(
            1
            for mode, text in marshal.loads(cache.read(_table(cache_dir)) or b"")
            if mode == "exec" and text.startswith("def build(g, head, tail):")
        )
        > 0
    )
