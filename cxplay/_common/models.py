"""The one base model: immutable, and strict about unknown keys."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen", "trusted"]


class Frozen(BaseModel):
    """A frozen pydantic model that refuses unknown keys (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """A model from values cxplay built itself and knows to be valid, without validating.

    Like ``cls.model_construct(**values)`` with every field given, at a tenth of its cost:
    for the hot path of the engine (an action of a decision is built millions of times in
    a backtest). ``values`` must hold every field, already of the field's type;
    ``tests/test_decide_fast.py`` checks the result equals the validated model.
    """
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_set = object.__setattr__
