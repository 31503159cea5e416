"""External components a test needs (PostgreSQL, Chromium, hunspell, Dask).

On a user's machine without the component, the test is skipped with a visible reason. With
``CI=true`` (as ``.ci/run`` is run) a missing component fails the test instead: CI must never
pass by skipping.
"""

from __future__ import annotations

import os

import pytest


def on_ci() -> bool:
    """Whether this run is CI's, where every component must be present."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def need(available: bool, reason: str) -> None:
    """Skip (on a user's machine) or fail (on CI) when a component is not ``available``."""
    if available:
        return
    if on_ci():
        pytest.fail(f"{reason} (CI=true: this component is required)", pytrace=False)
    pytest.skip(reason)
