"""The condition language of ``when = "..."``: parse, check, normalise.

A condition is a Python *expression* parsed with :mod:`ast` in ``eval`` mode and accepted
only if every node is on a short whitelist -- it is never evaluated by Python. What is
allowed:

* comparisons ``== != < <= > >=`` between a field and a literal, chained too
  (``10 <= order.value < 100``);
* ``and``, ``or``, ``not`` and parentheses;
* ``field in ['a', 'b']`` and ``field not in [...]`` with a literal list;
* ``exists(field)`` -- the presence test -- and ``matches(field, 'regex')`` (RE2 syntax,
  linear time on untrusted text, ``search`` semantics; see :mod:`.regex`);
* a boolean field on its own (``facts.vip``) meaning ``facts.vip == true``;
* dotted field paths (``customer.tier``, ``facts.delay_days``) and string, number and
  boolean literals (``true``/``false`` or ``True``/``False``).

Semantics on a missing field: ``==``, ``<``, ``<=``, ``>``, ``>=``, ``in`` and
``matches`` are false; ``!=`` and ``not in`` are true (they are the negations of ``==``
and ``in``); ``not`` is plain logical negation.

Every field is checked against the incident model plus the facts the playbook declares;
a literal is checked against the field's type. The result is a tree in negation normal
form (``not`` pushed down to the leaves), which both backends consume.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Union

from cxplay._common.text import closest, did_you_mean, echo
from cxplay._conditions.regex import compile_regex
from cxplay.models import CHANNELS, SEVERITIES, STAGES

__all__ = [
    "POLICY_VALUE",
    "And",
    "Cmp",
    "ConditionSyntaxError",
    "Exists",
    "FieldType",
    "In",
    "Leaf",
    "Match",
    "Node",
    "Or",
    "builtin_fields",
    "leaves",
    "parse_condition",
    "policy_value_path",
    "type_constraint",
    "with_policy_value",
]

Scalar = Union[str, float, bool]

#: The field "order value in the policy currency"; each playbook's rules read it under
#: ``order.policy_value.<playbook id>`` (see :func:`policy_value_path`), since the rates are
#: the playbook's own.
POLICY_VALUE = "order.policy_value"


def policy_value_path(playbook_id: str) -> str:
    """Where the flattened incident carries the order value converted for one playbook."""
    return f"{POLICY_VALUE}.{playbook_id}"


def with_policy_value(node: Node, playbook_id: str) -> Node:
    """The condition with ``order.policy_value`` bound to one playbook's rates."""
    if isinstance(node, And | Or):
        items = tuple(with_policy_value(i, playbook_id) for i in node.items)
        return replace(node, items=items)
    if node.path == POLICY_VALUE:
        return replace(node, path=policy_value_path(playbook_id))
    return node


Op = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class FieldType:
    """The type of a field as conditions see it."""

    kind: Literal["string", "number", "boolean", "list", "datetime"]
    choices: tuple[str, ...] | None = None  # for enumerations such as channel


@dataclass(frozen=True)
class Cmp:
    """``path op value``; ``or_missing`` makes an ordering test also true when missing."""

    path: str
    op: Op
    value: Scalar
    source: str
    or_missing: bool = False


@dataclass(frozen=True)
class In:
    """``path in values`` (or ``not in`` when negated)."""

    path: str
    values: tuple[Scalar, ...]
    negated: bool
    source: str


@dataclass(frozen=True)
class Exists:
    """``exists(path)`` (or its negation)."""

    path: str
    negated: bool
    source: str


@dataclass(frozen=True)
class Match:
    """``matches(path, pattern)`` (or its negation); evaluated with RE2 (:mod:`.regex`)."""

    path: str
    pattern: str
    negated: bool
    source: str


@dataclass(frozen=True)
class And:
    """All items hold."""

    items: tuple[Node, ...]
    source: str


@dataclass(frozen=True)
class Or:
    """At least one item holds."""

    items: tuple[Node, ...]
    source: str


Leaf = Union[Cmp, In, Exists, Match]
Node = Union[Cmp, In, Exists, Match, And, Or]


class ConditionSyntaxError(ValueError):
    """A condition is refused; ``column`` is 1-based within the expression."""

    def __init__(self, message: str, column: int | None = None) -> None:
        self.column = column
        where = f"column {column}: " if column else ""
        super().__init__(f"{where}{message}")


def builtin_fields() -> dict[str, FieldType]:
    """Fields of the incident model that conditions may use."""
    string, number = FieldType("string"), FieldType("number")
    return {
        "id": string,
        "type": string,
        "channel": FieldType("string", CHANNELS),
        "stage": FieldType("string", STAGES),
        "severity": FieldType("string", SEVERITIES),
        "description": string,
        "occurred_at": FieldType("datetime"),
        "customer.id": string,
        "customer.name": string,
        "customer.language": string,
        "customer.tier": string,
        "customer.lifetime_value": number,
        "customer.orders_count": number,
        "customer.compensations_90d": number,
        "customer.salutation": string,
        "customer.gender": FieldType("string", ("female", "male", "unknown")),
        "customer.timezone": string,
        "order.id": string,
        "order.value": number,
        # the order's value in the playbook's policy currency (its dated rates table);
        # missing when the order's currency has no rate there
        POLICY_VALUE: number,
        "order.currency": string,
        "order.carrier": string,
        "event.id": string,
        "event.session": string,
        "event.speaker": string,
    }


_FACT_TYPES: Mapping[str, FieldType] = {
    "string": FieldType("string"),
    "number": FieldType("number"),
    "integer": FieldType("number"),
    "boolean": FieldType("boolean"),
    "list": FieldType("list"),
}


def fact_field_type(declared: str) -> FieldType:
    """The condition type of a declared fact type."""
    return _FACT_TYPES[declared]


_NEGATE: Mapping[str, Op] = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP: Mapping[str, Op] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS: Mapping[type[ast.cmpop], Op] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_REFUSED: Mapping[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed (only exists() and matches())",
    ast.Subscript: "subscripts ([...]) are not allowed; use dotted field names",
    ast.Lambda: "lambdas are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.BinOp: "arithmetic is not allowed; compare a field with a literal",
    ast.IfExp: "conditional expressions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed; use a list",
    ast.Starred: "starred expressions are not allowed",
}


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, FieldType]) -> None:
        self.text = text
        self.fields = fields

    def fail(self, node: ast.AST | None, message: str) -> ConditionSyntaxError:
        column = getattr(node, "col_offset", None)
        return ConditionSyntaxError(message, None if column is None else column + 1)

    def src(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or self.text

    # -- nodes -------------------------------------------------------------------------

    def node(self, node: ast.expr) -> Node:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.node(v) for v in node.values)
            cls = And if isinstance(node.op, ast.And) else Or
            return cls(items, self.src(node))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return negate(self.node(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name | ast.Attribute):
            path = self.path(node)
            ftype = self.fields[path]
            if ftype.kind != "boolean":
                raise self.fail(
                    node,
                    f"{path} is a {ftype.kind}, not a boolean; compare it (e.g. {path} == ...)",
                )
            return Cmp(path, "==", True, self.src(node))
        if isinstance(node, ast.Constant):
            raise self.fail(node, f"a literal ({echo(node.value)}) alone is not a condition")
        raise self.refuse(node)

    def refuse(self, node: ast.AST) -> ConditionSyntaxError:
        for kind, message in _REFUSED.items():
            if isinstance(node, kind):
                return self.fail(node, message)
        return self.fail(node, f"'{self.src(node)}' is not allowed in a condition")

    def compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=False):
            parts.append(self.pair(node, left, op, right))
            left = right
        if len(parts) == 1:
            return parts[0]
        return And(tuple(parts), self.src(node))

    def pair(self, whole: ast.Compare, left: ast.expr, op: ast.cmpop, right: ast.expr) -> Node:
        source = (
            self.src(whole) if len(whole.ops) == 1 else f"{self.src(left)} ... {self.src(right)}"
        )
        if isinstance(op, ast.In | ast.NotIn):
            path = self.path(left)
            ftype = self.fields[path]
            if not isinstance(right, ast.List | ast.Tuple):
                raise self.fail(
                    right, "'in' needs a literal list, e.g. channel in ['email', 'chat']"
                )
            if not right.elts:
                raise self.fail(right, "'in' needs a non-empty list")
            values = tuple(self.literal(e, path, ftype) for e in right.elts)
            return In(path, values, isinstance(op, ast.NotIn), source)
        if isinstance(op, ast.Is | ast.IsNot):
            raise self.fail(left, "'is' is not allowed; use exists(field) to test presence")
        for side in (left, right):
            if not isinstance(side, ast.Name | ast.Attribute | ast.Constant | ast.UnaryOp):
                raise self.refuse(side)
        oper = _OPS[type(op)]
        if _is_field(left):
            path, lit_node = self.path(left), right
        elif _is_field(right):
            path, lit_node, oper = self.path(right), left, _FLIP[oper]
        else:
            raise self.fail(
                left, "a comparison needs a field on one side and a literal on the other"
            )
        ftype = self.fields[path]
        if _is_field(lit_node):
            raise self.fail(
                lit_node, "comparing two fields is not supported; compare with a literal"
            )
        value = self.literal(lit_node, path, ftype)
        if oper not in ("==", "!=") and ftype.kind != "number":
            raise self.fail(whole, f"'{oper}' needs a number field; {path} is a {ftype.kind}")
        return Cmp(path, oper, value, source)

    def call(self, node: ast.Call) -> Node:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in ("exists", "matches"):
            raise self.fail(node, _REFUSED[ast.Call])
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        if name == "exists":
            if len(node.args) != 1:
                raise self.fail(node, "exists() takes one field, e.g. exists(order.value)")
            return Exists(self.path(node.args[0]), False, self.src(node))
        if len(node.args) != 2:
            raise self.fail(node, "matches() takes a field and a pattern: matches(field, 'regex')")
        path = self.path(node.args[0])
        if self.fields[path].kind != "string":
            raise self.fail(node.args[0], f"matches() needs a text field; {path} is not one")
        pattern = node.args[1]
        if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
            raise self.fail(pattern, "the pattern of matches() must be a string literal")
        try:
            compile_regex(pattern.value)
        except ValueError as exc:
            raise self.fail(
                pattern, f"invalid regular expression for RE2 (the linear-time engine): {exc}"
            ) from None
        return Match(path, pattern.value, False, self.src(node))

    def path(self, node: ast.expr) -> str:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise (
                self.refuse(current)
                if not isinstance(current, ast.Constant)
                else self.fail(node, "expected a field name")
            )
        parts.append(current.id)
        path = ".".join(reversed(parts))
        if any(p.startswith("_") for p in parts):
            raise self.fail(node, f"'{path}': names starting with '_' are not allowed")
        if path not in self.fields:
            raise self.fail(node, f"unknown field '{path}'{self.suggest(path)}")
        return path

    def suggest(self, path: str) -> str:
        names = list(self.fields)
        candidates = [f"facts.{path}"] if f"facts.{path}" in self.fields else []
        if path.startswith("facts."):
            # compare fact names alone: the shared "facts." prefix makes everything look close
            facts = [n[6:] for n in names if n.startswith("facts.")]
            close = closest(path[6:], facts)
            candidates += [f"facts.{close}"] if close is not None else []
        else:
            near = closest(path, names)
            candidates += [near] if near is not None else []
        if not candidates:
            tail = path.rsplit(".", 1)[-1]
            candidates = [n for n in names if n.rsplit(".", 1)[-1] == tail][:1]
        if candidates:
            return f"; did you mean '{candidates[0]}'?"
        if path.startswith("facts."):
            return " (declare it in the playbook's [facts] table)"
        return ""

    def literal(self, node: ast.expr, path: str, ftype: FieldType) -> Scalar:
        value: object
        if isinstance(node, ast.Constant):
            value = node.value
        elif (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            value = -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
        elif isinstance(node, ast.Name) and node.id in ("true", "false"):
            value = node.id == "true"
        elif isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, "a list is only allowed after 'in' / 'not in'")
        else:
            raise self.refuse(node)
        if ftype.kind in ("list", "datetime"):
            raise self.fail(
                node, f"{path} is a {ftype.kind}; conditions can only test exists({path})"
            )
        if ftype.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(node, f"type mismatch: {path} is a number, {echo(value)} is not")
            return float(value)
        if ftype.kind == "boolean":
            if not isinstance(value, bool):
                raise self.fail(node, f"type mismatch: {path} is a boolean, {echo(value)} is not")
            return value
        if not isinstance(value, str):
            raise self.fail(node, f"type mismatch: {path} is text, {echo(value)} is not")
        if ftype.choices is not None and value not in ftype.choices:
            hint = did_you_mean(
                value, ftype.choices, otherwise=f" (one of: {', '.join(ftype.choices)})"
            )
            raise self.fail(node, f"{path} is never {echo(value)}{hint}")
        return value


def _is_field(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) or (
        isinstance(node, ast.Name) and node.id not in ("true", "false")
    )


def negate(node: Node) -> Node:
    """The negation of ``node``, still in negation normal form."""
    if isinstance(node, Cmp):
        if node.op in ("==", "!="):
            return Cmp(node.path, _NEGATE[node.op], node.value, f"not ({node.source})")
        return Cmp(
            node.path, _NEGATE[node.op], node.value, f"not ({node.source})", not node.or_missing
        )
    if isinstance(node, In):
        return In(node.path, node.values, not node.negated, f"not ({node.source})")
    if isinstance(node, Exists):
        return Exists(node.path, not node.negated, f"not ({node.source})")
    if isinstance(node, Match):
        return Match(node.path, node.pattern, not node.negated, f"not ({node.source})")
    if isinstance(node, And):
        return Or(tuple(negate(i) for i in node.items), f"not ({node.source})")
    return And(tuple(negate(i) for i in node.items), f"not ({node.source})")


def parse_condition(text: str, fields: Mapping[str, FieldType]) -> Node:
    """Parse and check one condition; raise :class:`ConditionSyntaxError` if it is refused."""
    stripped = text.strip()
    if not stripped:
        raise ConditionSyntaxError("empty condition")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise ConditionSyntaxError(f"does not parse: {exc.msg}", exc.offset) from None
    except (ValueError, RecursionError, MemoryError):
        raise ConditionSyntaxError("does not parse (too deeply nested)") from None
    try:
        return _Parser(stripped, fields).node(tree.body)
    except RecursionError:
        raise ConditionSyntaxError("too deeply nested") from None


def leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf test of a condition tree, left to right."""
    if isinstance(node, And | Or):
        for item in node.items:
            yield from leaves(item)
    else:
        yield node


def type_constraint(node: Node) -> frozenset[str] | None:
    """The incident types a condition can match, or None when it does not pin the type.

    Used to partition rules by incident type: ``type == 'a' and ...`` can only match
    incidents of type ``a``; ``type in ['a', 'b'] or ...`` does not pin anything.
    """
    if isinstance(node, Cmp) and node.path == "type" and node.op == "==":
        return frozenset([str(node.value)])
    if isinstance(node, In) and node.path == "type" and not node.negated:
        return frozenset(str(v) for v in node.values)
    if isinstance(node, And):
        result: frozenset[str] | None = None
        for item in node.items:
            found = type_constraint(item)
            if found is not None:
                result = found if result is None else result & found
        return result
    if isinstance(node, Or):
        union: set[str] = set()
        for item in node.items:
            found = type_constraint(item)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    return None
