"""The one base model: immutable, and strict about unknown keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic_core import SchemaSerializer, core_schema

__all__ = [
    "Frozen",
    "FrozenMap",
    "freeze",
    "json_bytes",
    "json_serializer",
    "json_tuple_bytes",
    "python_only",
    "thaw",
    "trusted",
    "updated",
]


class Frozen(BaseModel):
    """A frozen pydantic model that refuses unknown keys (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], values: dict[str, Any], given: frozenset[str] | None = None) -> M:
    """A model from values cxplay built itself and knows to be valid, without validating.

    Like ``cls.model_construct(**values)`` with every field given, at a tenth of its cost:
    for the hot path of the engine (an action of a decision is built millions of times in
    a backtest). ``values`` must hold every field, already of the field's type;
    ``tests/test_decide_fast.py`` checks the result equals the validated model. ``given``:
    the fields set (what the keyword call gives), when not all of them.
    """
    model = _new(cls)
    _set_dict(model, values)
    _set_fields_set(model, set(values) if given is None else set(given))
    _set_extra(model, None)
    _set_private(model, None)
    return model


def updated(model: M, values: dict[str, Any]) -> M:
    """``model.model_copy(update=values)``, at under half its cost, for a model cxplay built.

    The same copy (the fields' dict with the values, the fields set with their names)
    without ``__copy__``'s generic steps; a model with extra or private values is copied by
    ``model_copy`` itself. ``tests/test_decide_fast.py`` checks the two agree.
    """
    if model.__pydantic_extra__ is not None or model.__pydantic_private__ is not None:
        return model.model_copy(update=values)
    copied = _new(type(model))
    _set_dict(copied, {**model.__dict__, **values})
    _set_fields_set(copied, model.__pydantic_fields_set__ | values.keys())
    _set_extra(copied, None)
    _set_private(copied, None)
    return copied


# A model's four slots, set through BaseModel's own descriptors: what object.__setattr__
# finds by looking each name up in the class's MRO, without the look-up (a third of
# trusted's cost). No model of cxplay defines __new__ (tests/test_decide_fast.py checks).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(dict[K, V]):
    """A read-only dict: what returned models hold where a mapping is wanted.

    It is a ``dict`` (JSON encoders, ``isinstance`` checks and templates take it as one),
    but every change raises :class:`TypeError`; it is hashable when its values are, and
    pickles as a plain mapping does.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"


def freeze(value: Any) -> Any:
    """A value with every list made a tuple and every dict a :class:`FrozenMap`, in depth."""
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The JSON-shaped twin of :func:`freeze`: dicts and lists again (for ``model_dump``)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


# ------------------------------------------------------------------------------ JSON, once

#: Serializer functions that only shape ``model_dump()``'s Python output (a tuple made a
#: list, a read-only mapping a dict): JSON writes tuples as arrays and :class:`FrozenMap`
#: as an object without them, so :func:`json_bytes` leaves them out.
_PYTHON_ONLY: set[Callable[..., Any]] = set()

F = TypeVar("F", bound=Callable[..., Any])


def python_only(function: F) -> F:
    """Mark a serializer function as shaping Python output only (see :func:`json_bytes`)."""
    _PYTHON_ONLY.add(function)
    return function


python_only(thaw)


def _without_python_only(schema: Any) -> Any:
    """A copy of a core schema without the serializers marked :func:`python_only`.

    A model's node names a stand-in class: pydantic-core would otherwise reuse the model
    class's own (prebuilt) serializer, callbacks included, for it and everything inside.
    The stand-in only names the node; the values serialized are the model's ``__dict__``.
    """
    if isinstance(schema, dict):
        copied = {
            key: _without_python_only(value)
            for key, value in schema.items()
            if not (
                key == "serialization"
                and isinstance(value, dict)
                and value.get("function") in _PYTHON_ONLY
            )
        }
        if copied.get("type") == "model":
            copied["cls"] = type(f"{copied['cls'].__name__}JSON", (), {})
        return copied
    if isinstance(schema, list):
        return [_without_python_only(value) for value in schema]
    return schema


_SERIALIZERS: dict[type[BaseModel], SchemaSerializer] = {}


def json_bytes(model: BaseModel) -> bytes:
    """``model.model_dump_json()`` as UTF-8 bytes, byte for byte, in one pydantic-core pass.

    The model's own serializer calls back into Python for every tuple and read-only mapping
    (to give ``model_dump()`` lists and dicts); this one, built once per class from the same
    core schema without those callbacks, writes the same JSON without leaving Rust, and
    without a ``str`` to encode again. ``tests/test_serve.py`` checks the equality.
    """
    cls = type(model)
    serializer = _SERIALIZERS.get(cls)
    if serializer is None:
        serializer = json_serializer(cls)
    return serializer.to_json(model)


#: The JSON of models met again and again, by the model's identity: the engine's actions
#: without a cost, one object per rule and approval for a playbook snapshot, which every
#: decision shares (the log's rows and the service's answers both write them). The entry
#: holds the model, so no other object can have its id while it is kept. Emptied when
#: :data:`SHARED_JSON_LIMIT` are kept (a few playbook sets' actions, older snapshots' too).
SHARED_JSON: dict[int, tuple[BaseModel, bytes]] = {}
SHARED_JSON_LIMIT = 4096


def shared_json(model: BaseModel) -> bytes:
    """:func:`json_bytes` of a model that never changes, kept in :data:`SHARED_JSON`.

    Callers look in :data:`SHARED_JSON` first (a dict look-up on their hot path) and call
    this only when the model is not there.
    """
    found = SHARED_JSON.get(id(model))
    if found is not None:
        return found[1]
    data = json_bytes(model)
    if len(SHARED_JSON) >= SHARED_JSON_LIMIT:
        SHARED_JSON.clear()
    SHARED_JSON[id(model)] = (model, data)
    return data


def json_serializer(cls: type[BaseModel]) -> SchemaSerializer:
    """The serializer :func:`json_bytes` uses for ``cls`` (the same options as the model's own).

    For callers that pass ``exclude``/``exclude_none``: the same output as the model's own
    ``model_dump_json`` or ``model_dump(mode="json")`` with them, without the callbacks.
    """
    serializer = _SERIALIZERS.get(cls)
    if serializer is None:
        serializer = _SERIALIZERS[cls] = SchemaSerializer(_json_schema(cls))
    return serializer


def _json_schema(cls: type[BaseModel]) -> Any:
    """The class's core schema without the :func:`python_only` serializers."""
    if not cls.__pydantic_complete__:  # defer_build: the schema is built on first use
        cls.model_rebuild()
    return _without_python_only(cls.__pydantic_core_schema__)


_TUPLE_SERIALIZERS: dict[type[BaseModel], SchemaSerializer] = {}


def json_tuple_bytes(cls: type[BaseModel], models: tuple[BaseModel, ...]) -> bytes:
    """A tuple of ``cls`` instances as a JSON array, one :func:`json_bytes` per item, in one pass.

    The same bytes as ``b"[" + b",".join(map(json_bytes, models)) + b"]"`` (pydantic-core
    writes compact JSON), without a call and a ``bytes`` per item; ``tests/test_log_rows.py``
    checks the equality.
    """
    serializer = _TUPLE_SERIALIZERS.get(cls)
    if serializer is None:
        item = _json_schema(cls)
        if item.get("type") == "definitions":  # (references: the array goes inside)
            schema = {**item, "schema": _tuple_of(item["schema"])}
        else:
            schema = _tuple_of(item)
        serializer = _TUPLE_SERIALIZERS[cls] = SchemaSerializer(schema)
    return serializer.to_json(models)


def _tuple_of(item: Any) -> Any:
    return core_schema.tuple_schema([item], variadic_item_index=0)
