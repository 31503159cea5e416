"""Templates that pass every size cap but would allocate gigabytes or run for days.

The sandbox bounds the work, not only the output: results that would grow past the limit
are refused before they are built, every render has a step and time budget, and
``/v1/validate`` checks an upload in a child process that is killed at the deadline. The
sizes here are small enough that a sandbox without these checks fails the test in seconds
(100 MB, 27 million steps) rather than taking the machine down.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplay._replies.sandbox import (
    MAX_STEPS,
    MAX_VALUE,
    ReplyEnvironment,
    SizeError,
    WorkError,
    render_capped,
)

ENV = ReplyEnvironment()


def render(source: str, **context: Any) -> str:
    return render_capped(ENV.from_string(source), context)


AMPLIFIERS = {
    "replace filter": "{{ s|replace('a', s)|length }}",
    "replace method": "{{ s.replace('a', s)|length }}",
    "join filter": "{{ (s|list)|join(s)|length }}",
    "join method": "{{ s.join(s|list)|length }}",
    "indent": "{{ (s|replace('a', '\\n'))|indent(10000)|length }}",
    "~ doubling": (
        "{% set ns = namespace(t=s) %}{% for i in range(14) %}{% set ns.t = ns.t ~ ns.t %}"
        "{% endfor %}{{ ns.t|length }}"
    ),
    "nested format width": "{{ '{:>{w}}'.format('x', w=100000000)|length }}",
    "float format width": "{{ '{:>{w}}'.format('x', w=1e8)|length }}",
    "format_map width": "{{ '{x:>{w}}'.format_map({'x': 1, 'w': 100000000})|length }}",
    "% with *": "{{ ('%*d' % (100000000, 1))|length }}",
    "% with .*": "{{ ('%.*f' % (100000000, 1.5))|length }}",
    "format filter with *": "{{ '%*d'|format(100000000, 1)|length }}",
}


@pytest.mark.parametrize("name", list(AMPLIFIERS))
def test_amplification_is_refused_before_it_is_built(name: str) -> None:
    with pytest.raises(SizeError, match="more than the sandbox allows"):
        render(AMPLIFIERS[name], s="a" * 10_000)


LOOPS = {
    "three nested ranges": (
        "{% for a in range(300) %}{% for b in range(300) %}{% for c in range(300) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "nested loops over text": "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "a macro calling itself in a loop": (
        "{% macro m(n) %}{% for i in range(n) %}{{ m(n) if n > 40 else '' }}{% endfor %}"
        "{% endmacro %}{% for i in range(9999) %}{{ m(30) }}{% endfor %}"
    ),
    "lookups": "{% for a in range(9999) %}{% for b in range(99) %}{{ s.upper and '' }}"
    "{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("name", list(LOOPS))
def test_work_is_bounded_by_the_step_budget(name: str) -> None:
    with pytest.raises(WorkError, match=f"more than {MAX_STEPS:,} steps"):
        render(LOOPS[name], s="a" * 6_000)


@given(st.integers(0, 60), st.integers(0, 60), st.text(alphabet="ab,", max_size=30))
@settings(max_examples=100, deadline=None)
def test_what_a_reply_does_renders_as_before(n: int, width: int, text: str) -> None:
    """Loops, joins, replaces and widths of a reply's size render exactly as Jinja does."""
    from jinja2.sandbox import SandboxedEnvironment

    source = (
        "{% for i in range(n) %}{{ i ~ ',' }}{% endfor %}|{{ t|replace(',', ';') }}"
        "|{{ t.split(',')|join('+') }}|{{ '{:>{w}}'.format(t, w=w) }}|{{ '%*s' % (w, t) }}"
        "|{{ t|indent(w) }}|{{ ', '.join(t.split('a')) }}"
    )
    plain = SandboxedEnvironment().from_string(source).render(n=n, w=width, t=text)
    assert render(source, n=n, w=width, t=text) == plain


def test_each_render_has_its_own_budget() -> None:
    template = ENV.from_string(
        "{% for i in range(9000) %}{% for j in range(10) %}{% endfor %}{% endfor %}"
    )
    for _ in range(5):  # 90,000 steps each: fine one by one, not if the budget leaked
        render_capped(template, {})
    assert MAX_VALUE >= 100_000


# --------------------------------------------------------------------------- /v1/validate

fastapi = pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from cxplay._playbooks.loader import shipped_playbooks_dir  # noqa: E402
from cxplay._serve import ServeConfig, create_app  # noqa: E402

MINI = """\
[playbook]
id = "mini"
version = "1.0.0"
languages = ["en"]

[[rule]]
id = "mini.slow"
when = "type == 'parcel_late'"
actions = [{ kind = "apology", template = "slow" }]
"""


def _upload(fragment: str) -> dict[str, str]:
    replies = shipped_playbooks_dir() / "replies"
    files = {
        f"replies/{p.name}": p.read_text("utf-8")
        for p in replies.glob("*.toml")
        if p.name == "config.toml" or p.name.startswith("common.")
    }
    return {"mini.toml": MINI, **files, "replies/slow.en.toml": f"slow = {json.dumps(fragment)}\n"}


def _validate(client: TestClient, files: dict[str, str]) -> Any:
    return client.post(
        "/v1/validate",
        content=json.dumps({"files": files}),
        headers={"Content-Type": "application/json"},
    )


def test_an_upload_that_would_run_for_days_is_reported_not_run() -> None:
    loops = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    with TestClient(create_app(ServeConfig(auth=False, watch=False, timeout=30))) as client:
        answer = _validate(client, _upload(loops))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is False
    assert any("steps to render" in p for p in report["problems"]), report


def test_validation_is_killed_at_the_deadline(tmp_path: Path) -> None:
    with TestClient(
        create_app(ServeConfig(auth=False, watch=False, timeout=0.2)),
        raise_server_exceptions=False,
    ) as client:
        started = time.monotonic()
        answer = _validate(client, _upload("{{ 1 }}"))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a\x00.toml", "no control characters"),
        ("a\nb.toml", "no control characters"),
        ("a\x9b.toml", "no control characters"),
        ("\ud800.toml", "valid Unicode text"),
        ("é" * 130 + ".toml", "at most 255 bytes"),
        ("../a.toml", "a name is 'NAME.toml'"),
    ],
)
def test_a_bad_upload_name_is_a_clear_422(name: str, says: str) -> None:
    with TestClient(
        create_app(ServeConfig(auth=False, watch=False)), raise_server_exceptions=False
    ) as client:
        answer = _validate(client, {name: "x = 1\n"})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert len(problem["errors"]) == 1 and says in problem["errors"][0]
