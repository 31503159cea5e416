"""Playbooks as a whole: loading (:mod:`.loader`), linting (:mod:`.lint`), scenarios, journey.

- :mod:`.loader` -- TOML files to validated models with parsed conditions;
- :mod:`.lint` -- what ``cxplay validate`` reports beyond loading (unreachable rules,
  scenarios citing what does not exist, every reply test-rendered);
- :mod:`.scenarios` -- the runner of the ``[[test]]`` scenarios and rule coverage;
- :mod:`.labels` -- titles for people (types, facts, channels, action kinds) per language;
- :mod:`.journey` -- the journey map: which CX dimension and stage the playbooks cover.
"""
