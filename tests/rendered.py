"""Every shipped reply: each example incident and scenario in en/pl/uk on every channel.

Used by the spelling test, the survey and carrier property tests, and to read all replies
once (``python -m tests.rendered > all.txt``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cxplay import Engine
from cxplay.models import CHANNELS

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "pl", "uk")


def incidents(engine: Engine) -> Iterator[tuple[str, dict[str, Any]]]:
    """The example incidents, then every scenario of the shipped playbooks."""
    for path in sorted((ROOT / "examples" / "incidents").glob("*.json")):
        yield path.stem, json.loads(path.read_text(encoding="utf-8"))
    for playbook in engine.playbooks.playbooks:
        for number, test in enumerate(playbook.tests):
            yield f"{playbook.meta.id}#{number + 1}", dict(test.incident)


#: When the replies are written, for the incidents that carry no ``occurred_at`` (a Tuesday,
#: 10:00 in Warsaw, in the teams' working hours): a reply's deadlines and answer times
#: follow the clock, so the corpus the checks read must not change with the hour it runs at.
REPLY_AT = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def replies(engine: Engine) -> Iterator[tuple[str, str, str, str]]:
    """(case, language, channel, text) for every case × language × channel."""
    for name, incident in incidents(engine):
        for channel in CHANNELS:
            for language in LANGUAGES:
                suggestion = engine.suggest(
                    {**incident, "channel": channel}, language=language, now=REPLY_AT
                )
                reply = suggestion.reply
                if reply is None:
                    continue
                text = reply.body if reply.subject is None else f"{reply.subject}\n\n{reply.body}"
                yield name, language, channel, text


if __name__ == "__main__":
    for case, language, channel, text in replies(Engine.from_path()):
        print(f"=== {case} [{language}/{channel}]\n{text}\n")


#: When the notices speak from (a Friday, 15:00 in Warsaw).
_NOTICE_AT = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)

#: A member of each shipped disruption, per language: what its notices are rendered for.
_NOTICE_PEOPLE = {"en": "John Smith", "pl": "Anna Kowalska", "uk": "Олена Петренко"}


def notices(engine: Engine) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(case, incident, reply) for every disruption notice and resolution notice of the
    shipped ``[[correlate]]`` blocks, in each language on every channel."""
    from cxplay._watch.notices import render_notice
    from cxplay.models import Incident

    renderer = engine.renderer
    assert renderer is not None
    for compiled in engine.playbooks.correlations:
        for language in compiled.playbook.meta.languages:
            for channel in CHANNELS:
                incident = {
                    "id": "N-1",
                    "type": "sample",
                    "channel": channel,
                    "customer": {"name": _NOTICE_PEOPLE[language], "language": language},
                    "order": {"id": "PL-5531", "carrier": "InPost"},
                    "event": {"id": "cxconf-2026", "session": "Keynote"},
                    "facts": {"route": "IC 5301", "store": "Kraków Rynek"},
                }
                model = Incident.model_validate(incident)
                for kind in ("notice", "resolved"):
                    # a notice speaks from a moment: Friday afternoon, so promises name a day
                    reply = render_notice(renderer, compiled, model, kind, now=_NOTICE_AT)
                    yield f"{kind} {compiled.id} [{language}/{channel}]", incident, reply
