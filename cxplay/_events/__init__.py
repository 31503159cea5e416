"""Events and their preloaded contingency plans: ``cxplay plan`` and ``suggest --plan``.

- :mod:`.model` -- the event file's model (venue, contacts, sessions, speakers, guests);
- :mod:`.load` -- TOML text to an Event, every problem with its line;
- :mod:`.checks` -- checks across tables (ids, rooms, overlaps, the day);
- :mod:`.replan` -- re-planning the agenda for a late speaker;
- :mod:`.plan` -- building a plan: every foreseeable incident, answered in advance;
- :mod:`.store` -- ``plan.json`` written and read back (untrusted), and freshness;
- :mod:`.offline` -- answering on the day from the plan, without the playbooks;
- :mod:`.runbook` -- the printable runbook (Markdown, HTML).
"""
