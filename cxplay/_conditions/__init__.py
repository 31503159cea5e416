"""The condition language of ``when``: parsing (:mod:`.parse`) and reasoning (:mod:`.implication`).

:mod:`.parse` turns an expression string into a condition tree with Python's ``ast`` (a
whitelist of nodes, never ``eval``) and checks field names and types against the incident
model and the declared facts; :mod:`.implication` decides whether one condition implies
another, which ``cxplay validate`` uses to find rules that can never win.
"""
