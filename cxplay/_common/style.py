"""The one stylesheet of every page cxplay renders.

The console serves it; the report, the backtest page and the runbook inline it (each of
those is one self-contained file).
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["STYLESHEET", "stylesheet"]

STYLESHEET = Path(__file__).with_name("style.css")


@functools.cache
def stylesheet() -> str:
    """The stylesheet's text (``style.css`` beside this module)."""
    return STYLESHEET.read_text(encoding="utf-8")
