"""``POST /v1/suggest``'s answer written with its shared actions kept: the same bytes.

:func:`cxplay._serve.answer.answer_json` against the model's own ``model_dump_json``
(and :func:`json_bytes`), over the example incidents in every language and channel, both
backends, with and without the trace, each twice (the second time from the kept actions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cxplay import Engine
from cxplay._common import models
from cxplay._common.models import json_bytes
from cxplay._engine.durable import AVAILABLE as DURABLE
from cxplay._serve.answer import answer_json
from cxplay.models import CHANNELS
from cxplay.results import SuggestedAction, Suggestion

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = sorted((ROOT / "examples" / "incidents").glob("*.json"))
BACKENDS = [
    pytest.param("durable", marks=pytest.mark.skipif(not DURABLE, reason="no durable")),
    "python",
]


def cases() -> Iterator[dict[str, Any]]:
    """bench_replies' 132 cases: each example in every language and channel."""
    for path in INCIDENTS:
        base = json.loads(path.read_text(encoding="utf-8"))
        for language in ("en", "pl", "uk"):
            for channel in sorted(CHANNELS)[:4]:
                incident = dict(base)
                incident["channel"] = channel
                incident["customer"] = {**base.get("customer", {}), "language": language}
                yield incident


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    return Engine.from_path(backend=request.param)


def same(suggestion: Suggestion) -> None:
    expected = suggestion.model_dump_json().encode()
    assert answer_json(suggestion) == expected
    assert answer_json(suggestion) == expected  # now from what was kept
    assert json_bytes(suggestion) == expected


@pytest.mark.parametrize("explain", [False, True])
def test_every_case_is_written_as_the_model_writes_it(engine: Engine, explain: bool) -> None:
    count = 0
    for incident in cases():
        same(engine.suggest(incident, explain=explain))
        same(engine.suggest(incident, explain=explain))  # the engine's shared actions again
        count += 1
    assert count == 4 * 3 * len(INCIDENTS)


def test_shared_actions_are_kept_and_costed_ones_are_not(engine: Engine) -> None:
    models.SHARED_JSON.clear()
    incident = json.loads((ROOT / "examples/incidents/parcel_damaged.json").read_bytes())
    suggestion = engine.suggest(incident)
    costed = [a for a in suggestion.actions if a.cost is not None]
    plain = [a for a in suggestion.actions if a.cost is None]
    assert costed and plain
    same(suggestion)
    assert all(models.SHARED_JSON[id(a)] == (a, json_bytes(a)) for a in plain)
    assert all(id(a) not in models.SHARED_JSON for a in costed)
    again = engine.suggest(incident)
    assert next(a for a in again.actions if a.cost is None) is plain[0]  # what keeping relies on


def test_no_actions_a_tricky_id_and_a_full_table(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "SHARED_JSON_LIMIT", 2)
    models.SHARED_JSON.clear()
    suggestion = engine.suggest({"type": "nothing_matches_this", "id": 'x","reply":null,"a'})
    same(suggestion)
    same(suggestion.model_copy(update={"actions": ()}))
    for incident in cases():
        same(engine.suggest(incident))
        assert len(models.SHARED_JSON) <= 2


def test_anything_but_the_library_models_is_written_the_usual_way(engine: Engine) -> None:
    class Other(Suggestion):
        pass

    class OtherAction(SuggestedAction):
        pass

    incident = json.loads((ROOT / "examples/incidents/parcel_lost.json").read_bytes())
    suggestion = engine.suggest(incident)
    other = Other.model_validate(suggestion.model_dump())
    assert answer_json(other) == json_bytes(other) == other.model_dump_json().encode()
    actions = tuple(OtherAction.model_validate(a.model_dump()) for a in suggestion.actions)
    mixed = suggestion.model_copy(update={"actions": actions})
    assert answer_json(mixed) == mixed.model_dump_json().encode()
    assert not any(id(a) in models.SHARED_JSON for a in actions)


def test_the_log_and_the_answer_keep_one_json_per_action(engine: Engine) -> None:
    from cxplay._log import records

    models.SHARED_JSON.clear()
    records._ACTION_PARTS.clear()
    incident = json.loads((ROOT / "examples/incidents/parcel_damaged.json").read_bytes())
    suggestion = engine.suggest(incident)
    same(suggestion)  # the answer writes the shared actions' JSON first
    records.action_columns(suggestion.actions)
    plain = [a for a in suggestion.actions if a.cost is None]
    assert plain
    for action in plain:  # the log's parts hold the very bytes the answer kept
        assert records._ACTION_PARTS[id(action)][1] is models.SHARED_JSON[id(action)][1]
