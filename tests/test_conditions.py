"""The condition language: what it accepts, what it refuses (with where), what it means."""

from __future__ import annotations

import pytest

from cxplay._conditions.parse import (
    And,
    Cmp,
    ConditionSyntaxError,
    Exists,
    FieldType,
    In,
    Match,
    Or,
    builtin_fields,
    parse_condition,
    type_constraint,
)
from cxplay._engine.reference import compile_node, explain_node

FIELDS = {
    **builtin_fields(),
    "facts.delay_days": FieldType("number"),
    "facts.vip": FieldType("boolean"),
    "facts.missing_item": FieldType("string"),
    "facts.tags": FieldType("list"),
}


def parse(text: str):
    return parse_condition(text, FIELDS)


def holds(text: str, flat: dict[str, object]) -> bool:
    return compile_node(parse(text))(flat)


# -- accepted ---------------------------------------------------------------------------


def test_comparison_numbers_become_floats() -> None:
    assert parse("order.value >= 100") == Cmp("order.value", ">=", 100.0, "order.value >= 100")


def test_literal_on_the_left_is_flipped() -> None:
    node = parse("100 < order.value")
    assert isinstance(node, Cmp) and (node.path, node.op, node.value) == ("order.value", ">", 100.0)


def test_chained_comparison_is_a_conjunction() -> None:
    node = parse("10 <= order.value < 100")
    assert isinstance(node, And)
    assert [(c.op, c.value) for c in node.items] == [(">=", 10.0), ("<", 100.0)]


def test_in_and_not_in_take_literal_lists() -> None:
    assert parse("channel in ['email', 'chat']") == In(
        "channel", ("email", "chat"), False, "channel in ['email', 'chat']"
    )
    node = parse("customer.tier not in ('gold',)")
    assert isinstance(node, In) and node.negated


def test_presence_and_regex_forms() -> None:
    assert parse("exists(order.value)") == Exists("order.value", False, "exists(order.value)")
    node = parse("matches(description, 'broken|smashed')")
    assert isinstance(node, Match) and node.pattern == "broken|smashed"


def test_boolean_field_alone_and_lowercase_literals() -> None:
    assert parse("facts.vip") == Cmp("facts.vip", "==", True, "facts.vip")
    assert parse("facts.vip == false") == Cmp("facts.vip", "==", False, "facts.vip == false")


def test_not_is_pushed_to_the_leaves() -> None:
    node = parse("not (type == 'a' and order.value > 3)")
    assert isinstance(node, Or)
    first, second = node.items
    assert isinstance(first, Cmp) and first.op == "!="
    assert isinstance(second, Cmp) and second.op == "<=" and second.or_missing


def test_negative_numbers() -> None:
    assert parse("facts.delay_days > -2") == Cmp(
        "facts.delay_days", ">", -2.0, "facts.delay_days > -2"
    )


# -- semantics on missing fields ------------------------------------------------------------

SEMANTICS = [
    ("order.value > 10", {}, False),
    ("order.value > 10", {"order.value": 11}, True),
    ("not (order.value > 10)", {}, True),
    ("order.value <= 10", {}, False),
    ("channel == 'email'", {}, False),
    ("channel != 'email'", {}, True),
    ("channel != 'email'", {"channel": "email"}, False),
    ("channel in ['email', 'chat']", {}, False),
    ("channel not in ['email', 'chat']", {}, True),
    ("not (channel in ['email'])", {"channel": "chat"}, True),
    ("exists(order.value)", {"order.value": 0}, True),
    ("not exists(order.value)", {}, True),
    ("matches(description, 'broken')", {}, False),
    ("not matches(description, 'broken')", {}, True),
    ("matches(description, '(?i)BROKEN')", {"description": "it was broken"}, True),
    ("facts.vip", {"facts.vip": False}, False),
    ("type == 'a' or order.value > 1", {"order.value": 2}, True),
    ("1 < facts.delay_days <= 3", {"facts.delay_days": 3}, True),
    ("1 < facts.delay_days <= 3", {"facts.delay_days": 1}, False),
]


@pytest.mark.parametrize(("text", "flat", "expected"), SEMANTICS)
def test_semantics(text: str, flat: dict[str, object], expected: bool) -> None:
    assert holds(text, flat) is expected


def test_explain_names_the_first_failing_condition() -> None:
    node = parse("type == 'parcel_damaged' and order.value >= 100")
    held, failed = explain_node(node, {"type": "parcel_damaged", "order.value": 50})
    assert not held and failed is not None and failed.source == "order.value >= 100"


# -- refused ----------------------------------------------------------------------------

REFUSED = [
    ("__import__('os')", "function calls are not allowed", 1),
    ("type.__class__ == 'x'", "names starting with '_'", 1),
    ("facts.tags[0] == 'a'", "subscripts", 1),
    ("(lambda: 1) == 1", "lambdas are not allowed", 2),
    ("f'{type}' == 'x'", "f-strings are not allowed", 1),
    ("[t for t in 'ab'] == 1", "comprehensions are not allowed", 1),
    ("order.value + 1 > 2", "arithmetic is not allowed", 1),
    ("type == 'a' if True else False", "conditional expressions", 1),
    ("(x := 1)", "assignment expressions", 2),
    ("channel in {'email'}", "'in' needs a literal list", 12),
    ("type is None", "'is' is not allowed", 1),
    ("order.value == customer.lifetime_value", "comparing two fields", 16),
    ("'a' == 'b'", "a field on one side", 1),
    ("exists(order.value, 1)", "exists() takes one field", 1),
    ("matches(description, type)", "must be a string literal", 22),
    ("matches(description, '(')", "invalid regular expression", 22),
    ("matches(order.value, 'x')", "needs a text field", 9),
    ("open('x')", "function calls are not allowed", 1),
    ("type ==", "does not parse", None),
    ("", "empty condition", None),
    ("42", "alone is not a condition", 1),
    ("channel in []", "non-empty list", 12),
]


@pytest.mark.parametrize(("text", "message", "column"), REFUSED)
def test_refused_with_position(text: str, message: str, column: int | None) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse(text)
    assert message in str(caught.value)
    if column is not None:
        assert caught.value.column == column


TYPE_ERRORS = [
    ("order.value > 'abc'", "type mismatch: order.value is a number"),
    ("order.value == true", "type mismatch: order.value is a number"),
    ("customer.tier > 'gold'", "'>' needs a number field"),
    ("facts.vip == 1", "type mismatch: facts.vip is a boolean"),
    ("channel == 'emial'", "did you mean 'email'"),
    ("severity in ['hgh']", "did you mean 'high'"),
    ("facts.tags == 'a'", "conditions can only test exists(facts.tags)"),
    ("order.value", "not a boolean"),
]


@pytest.mark.parametrize(("text", "message"), TYPE_ERRORS)
def test_type_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("order.vlaue > 3", "did you mean 'order.value'"),
        ("costumer.tier == 'gold'", "did you mean 'customer.tier'"),
        ("delay_days > 2", "did you mean 'facts.delay_days'"),
        ("facts.dleay_days > 2", "did you mean 'facts.delay_days'"),
        ("facts.nothing_like_it > 2", "declare it in the playbook's [facts] table"),
    ],
)
def test_unknown_field_did_you_mean(text: str, hint: str) -> None:
    with pytest.raises(ConditionSyntaxError, match="unknown field") as caught:
        parse(text)
    assert hint in str(caught.value)


def test_deeply_nested_condition_is_refused_not_a_crash() -> None:
    text = "(" * 300 + "type == 'a'" + ")" * 300
    with pytest.raises(ConditionSyntaxError):
        parse(text)


def test_long_chain_of_or_is_fine() -> None:
    text = " or ".join(f"facts.delay_days == {i}" for i in range(300))
    assert holds(text, {"facts.delay_days": 299})


# -- partitioning ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ("type == 'a'", {"a"}),
        ("type == 'a' and order.value > 1", {"a"}),
        ("type in ['a', 'b']", {"a", "b"}),
        ("type == 'a' or type == 'b'", {"a", "b"}),
        ("type == 'a' or order.value > 1", None),
        ("type != 'a'", None),
        ("not (type != 'a')", {"a"}),
        ("type in ['a', 'b'] and type == 'b'", {"b"}),
    ],
)
def test_type_constraint(text: str, types: set[str] | None) -> None:
    found = type_constraint(parse(text))
    assert (set(found) if found is not None else None) == types
