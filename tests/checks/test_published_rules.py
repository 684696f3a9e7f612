"""The comparison rule and the quantity expressions of the published-numbers check."""

from __future__ import annotations

import pytest

from manualbp.checks.published.paths import (
    Interval,
    PathError,
    parse_expression,
    parse_graph_path,
    parse_mlp_path,
)
from manualbp.checks.published.rules import (
    Erratum,
    Rule,
    decimals,
    half_unit,
    judge,
    truncation_interval,
)


@pytest.mark.parametrize(
    ("text", "places"),
    [("0.40", 2), ("0.593269992", 9), ("220", 0), ("0.0000351085", 10), ("3.51085e-05", 10)],
)
def test_printed_decimals_are_read_from_the_text(text, places) -> None:
    assert decimals(text) == places


def test_half_a_unit_of_the_last_printed_decimal() -> None:
    rule = Rule()
    assert half_unit("0.40") == pytest.approx(0.005)
    assert rule.agrees(0.4049, "0.40")
    assert not rule.agrees(0.4051, "0.40")
    assert rule.agrees(0.4051, "0.4")  # the printed precision is part of the fact
    assert not rule.agrees(0.40000000060, "0.400000000")


@pytest.mark.parametrize(
    ("value", "printed", "agrees"),
    [
        (220.00000000000003, "220", True),
        (219.99999999999997, "220", True),  # the source's round-off could have gone up
        (220.7, "220", True),  # int() truncates: 220.7 prints 220
        (219.5, "220", False),
        (221.2, "220", False),
        (-3.5, "-3", True),
        (-2.9, "-3", False),
        (0.9, "0", True),
        (-0.9, "0", True),
    ],
)
def test_numbers_printed_through_int_are_truncations(value, printed, agrees) -> None:
    assert Rule("int").agrees(value, printed) is agrees


@pytest.mark.parametrize(
    ("value", "printed", "agrees"),
    [
        (0.52498, "0.5249", True),  # cut after 4 decimals: rounding would print 0.5250
        (0.52490, "0.5249", True),
        (0.5248999999, "0.5249", False),
        (0.52500001, "0.5249", False),
        (-0.52498, "-0.5249", True),
        (-0.52488, "-0.5249", False),
        (0.00004, "0.0000", True),
        (-0.00004, "0.0000", True),
        (-0.00004, "-0.0000", True),
        (0.00004, "-0.0000", False),
        (3.51089e-05, "3.5108e-05", True),  # 9 decimals, whatever the notation
    ],
)
def test_numbers_printed_truncated_are_cut_after_their_decimals(value, printed, agrees) -> None:
    rule = Rule("truncated")
    assert rule.agrees(value, printed) is agrees
    assert rule.atol(printed, 0.0) == pytest.approx(10.0 ** -decimals(printed))


def test_truncation_intervals_and_their_reason() -> None:
    assert truncation_interval("0.5249") == pytest.approx((0.5249, 0.525))
    assert truncation_interval("-0.5249") == pytest.approx((-0.525, -0.5249))
    assert truncation_interval("-0.00") == (-0.01, 0.0)
    assert truncation_interval("220") == (220.0, 221.0)  # what the int rule uses
    reason = Rule("truncated").describe("0.5249", 0.0)
    assert "truncated toward zero after 4 decimals, not rounded" in reason
    assert "between 0.5249 and 0.5250" in reason
    assert "int()" in Rule("int").describe("220", 0.0)


def test_rounded_intermediates_widen_the_bound_by_what_rounding_can_do() -> None:
    # Mazur's ∂E_o2/∂out_h1 = ∂E_o2/∂net_o2 · w7, ∂E_o2/∂net_o2 rounded to 9 decimals first
    delta, w7 = -0.038098236516556, 0.5
    expression = parse_expression("delta.2[0,1] * W2[1,0]", lambda t: parse_mlp_path(t, None))
    values = {"delta.2[0,1]": delta, "W2[1,0]": w7}
    exact = expression.evaluate(lambda path: Interval.point(values[path.text]))
    widened = expression.evaluate(
        lambda path: Interval.around(values[path.text], 0.5e-9 if path.text[0] == "d" else 0.0)
    )
    spread = widened.radius_about(exact.lo)
    assert spread == pytest.approx(0.25e-9)
    rule = Rule("rounded", {"delta.2[0,1]": 9}, "rounded by the source")
    assert rule.agrees(exact.lo, "-0.019049119", spread)
    assert not Rule().agrees(exact.lo, "-0.019049119")  # only the declared rule lets it pass
    assert rule.atol("-0.019049119", spread) == pytest.approx(0.75e-9)


def test_interval_products_cover_every_sign() -> None:
    product = Interval(-2.0, 3.0) * Interval(-5.0, 1.0)
    assert (product.lo, product.hi) == (-15.0, 10.0)
    difference = Interval(1.0, 2.0) - Interval(0.5, 4.0)
    assert (difference.lo, difference.hi) == (-3.0, 1.5)
    assert (-Interval(1.0, 2.0)).hi == -1.0


ERRATUM = Erratum(correct="0.2910277737", explanation="x", evidence={"autograd": "y"})


@pytest.mark.parametrize(
    ("value", "verdict", "says"),
    [
        (0.29102777369, "erratum", "known erratum"),
        (0.2910279239, "fail", "reproduces the source's mistake"),
        (0.2857508867, "fail", "agrees neither"),
    ],
)
def test_an_erratum_is_green_only_while_the_value_is_the_correct_one(value, verdict, says) -> None:
    got, reason = judge(value, "0.291027924", Rule(), 0.0, ERRATUM)
    assert got == verdict
    assert says in reason


def test_without_an_erratum_a_disagreement_fails_and_says_by_how_much() -> None:
    verdict, reason = judge(0.75, "0.75136507", Rule(), 0.0, None)
    assert verdict == "fail"
    assert "0.75136507" in reason
    assert judge(0.751365069, "0.75136507", Rule(), 0.0, None) == ("pass", "")


@pytest.mark.parametrize(
    "text",
    [
        "trained.a.2[0,1]",
        "step3.grad.W1[1,0]",
        "loss",
        "dE_da.1[0,0]",
        "b1",
        "x[0,1]",
    ],
)
def test_mlp_paths_reach_every_kind_of_value(text) -> None:
    path = parse_mlp_path(text, 10)
    assert path.text == text


def test_mlp_path_fields() -> None:
    path = parse_mlp_path("trained.a.2[0, 1]", 10000)
    assert (path.quantity, path.layer, path.index, path.steps) == ("a", 2, (0, 1), 10000)
    assert parse_mlp_path("step1.W2[0,0]", None).quantity == "param"
    assert parse_graph_path("grad.apple_num").name == "apple_num"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("out.2[0,0]", "unknown quantity"),
        ("trained.loss", "train_steps"),
        ("step1.x[0,0]", "do not change"),
    ],
)
def test_bad_mlp_paths_say_what_was_expected(text, message) -> None:
    with pytest.raises(PathError, match=message):
        parse_mlp_path(text, None)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "a.1[0,0] / 2",
        "a.1[0,0] ** 2",
        "W2[0,0].real",
        "abs(a.1[0,0])",
        "[a.1[0,0]]",
        "a.1[0,0] if True else 0",
        "2 * 3",
        "True * a.1[0,0]",
    ],
)
def test_expressions_admit_only_paths_numbers_and_plus_minus_times(text) -> None:
    with pytest.raises(PathError):
        parse_expression(text, lambda t: parse_mlp_path(t, None))


def test_expression_arithmetic_with_numbers_and_negation() -> None:
    expression = parse_expression("-(a.1[0,0] - 1e-3) * 2 + x[0,0]", lambda t: parse_mlp_path(t, 1))
    values = {"a.1[0,0]": 0.5, "x[0,0]": 0.25}
    result = expression.evaluate(lambda path: Interval.point(values[path.text]))
    assert result.lo == pytest.approx(-(0.5 - 1e-3) * 2 + 0.25)
    assert [p.text for p in expression.paths] == ["a.1[0,0]", "x[0,0]"]
