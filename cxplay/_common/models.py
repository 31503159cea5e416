"""The one base model: immutable, and strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen"]


class Frozen(BaseModel):
    """A frozen pydantic model that refuses unknown keys (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
