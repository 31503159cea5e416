"""Reply fragments' compiled code in the cache: it answers as Jinja's compile does, or not at all.

A fragment's code is kept under a key of its text, Jinja, cxplay's code and Python; a
corrupt or foreign entry is compiled again, never trusted; a fragment that does not
compile leaves nothing; outside a command nothing is kept.
"""

from __future__ import annotations

import json
import marshal
from pathlib import Path
from typing import Any

import pytest

from cxplay import Engine
from cxplay._common import cache
from cxplay._playbooks.loader import shipped_playbooks_dir
from cxplay._replies import compiled
from cxplay._replies.renderer import Renderer, _env
from cxplay.errors import TemplateError

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))
SOURCE = "Dear {{ name }},{% for n in items %} {{ n }}{% endfor %}"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CXPLAY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every source Jinja really compiles (not taken from the cache)."""
    seen: list[str] = []
    real = type(_env()).compile

    def counted(self: Any, source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(source)
        return real(self, source, *args, **kwargs)

    monkeypatch.setattr(type(_env()), "compile", counted)
    return seen


def _entries(where: Path) -> list[Path]:
    folder = where / "jinja"
    return sorted(folder.glob("*.code")) if folder.is_dir() else []


def test_kept_code_is_the_code_jinja_compiles(cache_dir: Path, compiles: list[str]) -> None:
    renderer = Renderer([shipped_playbooks_dir() / "replies"]).whole()
    sources = sorted(
        {
            source
            for language in renderer.languages
            for source in renderer.names(language).values()
            if "{" in source
        }
    )
    assert len(sources) > 50
    env = _env()
    with cache.enabled():
        first = [compiled.from_string(env, s) for s in sources]
        assert len(compiles) == len(sources)
        assert len(_entries(cache_dir)) == len(sources)
        second = [compiled.from_string(env, s) for s in sources]
    assert len(compiles) == len(sources)  # the second time: every one from the cache
    for source, a, b in zip(sources, first, second, strict=True):
        assert b is not a
        code = marshal.loads(cache.read(_entry_of(cache_dir, env, source)) or b"")
        assert code == env.compile(source), source
        assert b.root_render_func.__code__ == a.root_render_func.__code__


def _entry_of(where: Path, env: Any, source: str) -> Path:
    return where / "jinja" / compiled.entry_name(env, source)


def test_nothing_is_kept_outside_a_command(cache_dir: Path) -> None:
    template = compiled.from_string(_env(), SOURCE)
    assert template.render(name="Anna", items=[1, 2]) == "Dear Anna, 1 2"
    assert _entries(cache_dir) == []


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"garbage",
        marshal.dumps(["not", "code"]),
        marshal.dumps(compile("1", "x", "eval"))[:-4],
    ],
    ids=["cut", "garbage", "not-code", "truncated-marshal"],
)
def test_a_corrupt_entry_is_compiled_again(
    cache_dir: Path, compiles: list[str], body: bytes | None
) -> None:
    env = _env()
    with cache.enabled():
        compiled.from_string(env, SOURCE)
        (entry,) = _entries(cache_dir)
        if body is None:
            entry.write_bytes(entry.read_bytes()[:-5])
        else:
            cache.write(entry, body)  # checksummed, but not what was compiled
        template = compiled.from_string(env, SOURCE)
    assert template.render(name="Anna", items=[1, 2]) == "Dear Anna, 1 2"
    assert compiles == [SOURCE, SOURCE]
    assert marshal.loads(cache.read(entry) or b"") == env.compile(SOURCE)  # rewritten whole


def test_another_fragment_jinja_or_code_is_another_key(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env()
    with cache.enabled():
        compiled.from_string(env, SOURCE)
        compiled.from_string(env, SOURCE + " ")
        monkeypatch.setattr(compiled, "_compiler_stamp", lambda: "jinja 9.9.9")
        compiled.from_string(env, SOURCE)
    assert len(_entries(cache_dir)) == 3


def test_a_fragment_that_does_not_compile_is_not_kept(cache_dir: Path, tmp_path: Path) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "broken.en.toml").write_text('greeting = "Hello {{ name"\n', "utf-8")
    renderer = Renderer([replies])
    with cache.enabled():
        for _ in range(2):
            with pytest.raises(TemplateError, match="does not parse"):
                renderer.template("en", "greeting")
    assert _entries(cache_dir) == []


def test_old_entries_are_pruned(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "KEEP_COMPILED", 3)
    monkeypatch.setattr(compiled, "_PRUNE_EVERY", 1)
    env = _env()
    with cache.enabled():
        for n in range(6):
            assert compiled.from_string(env, f"{n}{{{{ x }}}}").render(x=1) == f"{n}1"
    assert len(_entries(cache_dir)) == 3


def test_an_engine_answers_the_same_with_compiled_fragments_kept(
    cache_dir: Path, compiles: list[str]
) -> None:
    incidents = [json.loads(p.read_text("utf-8")) for p in INCIDENTS]

    def answers() -> list[str]:
        with Engine.from_path() as engine:
            return [engine.suggest(i).model_dump_json() for i in incidents]

    truth = answers()
    uncached = len(compiles)
    with cache.enabled():
        cold = answers()
        assert len(compiles) == 2 * uncached
        warm = answers()  # a new engine: every fragment's code from the cache
    assert len(compiles) == 2 * uncached
    assert truth == cold == warm
