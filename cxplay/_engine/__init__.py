"""compile -> evaluate -> decide: the :class:`~.engine.Engine` and its backends.

- :mod:`.engine` -- the Engine: validates an incident, asks a backend which rules hold,
  decides, and hands the decision to the renderer;
- :mod:`.backend` -- the :class:`~.backend.Backend` protocol every evaluator implements;
- :mod:`.compiler` -- condition trees to durable_rules ruleset JSON (pure data);
- :mod:`.durable` -- the ONLY module that imports durable_rules;
- :mod:`.reference` -- the Python backend: conditions compiled to closures;
- :mod:`.decide` -- priorities, exclusive groups, guardrails, follow-ups.
"""
