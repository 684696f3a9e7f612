"""The comparison rule of the published-numbers check: a printed number and its precision.

A source prints a number with d decimals; the printed text says the source's value lies
within half a unit of the last printed decimal. A computed value agrees with the printed
text when

    |computed - printed| <= 0.5·10^-d                                   (rule ``printed``)

(``0.40`` has d = 2, ``220`` d = 0, ``3.51085e-05`` d = 10). Three documented exceptions, each
declared per quantity in the reference file, never applied silently:

``truncated``  the source cut the number after its d printed decimals instead of rounding
               it (truncation toward zero): ``0.5249`` means 0.5249 <= v < 0.5250 (−0.5250 <
               v <= −0.5249 for ``-0.5249``, −0.0001 < v < 0.0001 for ``0.0000`` and
               −0.0001 < v <= 0 for ``-0.0000``). The computed value agrees when it lies in
               that interval, widened by the float round-off :data:`ROUNDOFF`·max(1, |p|) of
               the source's own computation.
``int``        the source printed ``int(v)``: truncation at 0 decimals, as ``truncated`` (``220``
               means 220 <= v < 221); the printed text must be an integer.
``rounded``    the source computed the number from intermediates it had already rounded to
               k decimals. Each such intermediate is replaced by the interval of half a unit of
               its k-th decimal and the quantity's expression is evaluated over intervals; the
               computed value agrees when it lies within the printed half unit plus the
               largest distance that rounding can move the result (the interval's radius).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

RULES: tuple[str, ...] = ("printed", "int", "truncated", "rounded")
#: The rules under which a printed number is a truncation toward zero, not a rounding.
TRUNCATING: tuple[str, ...] = ("int", "truncated")

#: Relative float64 round-off allowed at the ends of a truncation interval: a source's float
#: computation of a few dozen operations is accurate to ~1e-14 relative.
ROUNDOFF = 1e-12


def parse_printed(text: object) -> Decimal:
    """The printed text as a finite Decimal; raises ValueError when it is not a number."""
    if not isinstance(text, str):
        raise ValueError(f"got {text!r}, expected the number as printed, in a string")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"got {text!r}, expected a decimal number such as '0.593269992'") from None
    if not value.is_finite():
        raise ValueError(f"got {text!r}, expected a finite number")
    return value


def decimals(text: str) -> int:
    """d, the number of printed decimals: 9 for ``0.593269992``, 0 for ``220``, 10 for
    ``3.51085e-05`` (negative for ``2.2e+2``, whose last digit is the tens)."""
    exponent = parse_printed(text).as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers have an integer exponent
    return -exponent


def half_unit(text: str) -> float:
    """0.5·10^-d, half a unit of the last printed decimal."""
    return 0.5 * 10.0 ** (-decimals(text))


def within_printed(value: float, text: str, extra: float = 0.0) -> bool:
    """|value - printed| <= 0.5·10^-d + extra."""
    return abs(value - float(parse_printed(text))) <= half_unit(text) + extra


def truncation_interval(text: str) -> tuple[float, float]:
    """The end points of the values v that truncated toward zero after the printed decimals
    give the printed number p, with u = 10^-d the unit of its last decimal: [p, p + u) for
    p > 0, (p - u, p] for p < 0, (-u, u) for an unsigned 0 and (-u, 0] for ``-0``."""
    printed = parse_printed(text)
    p, unit = float(printed), 10.0 ** (-decimals(text))
    if printed > 0:
        return p, p + unit
    if printed < 0:
        return p - unit, p
    return -unit, (0.0 if printed.is_signed() else unit)


def truncates_to(value: float, text: str) -> bool:
    """Whether ``value`` cut after the printed decimals (toward zero) gives ``text``, up to
    the round-off :data:`ROUNDOFF`·max(1, |p|) at each end of the interval."""
    low, high = truncation_interval(text)
    slack = ROUNDOFF * max(1.0, abs(float(parse_printed(text))))
    return low - slack <= value <= high + slack


@dataclass(frozen=True)
class Rule:
    """How a printed number is compared (see the module docstring).

    ``rounded`` maps each intermediate path the source rounded to its number of decimals;
    ``reason`` says why the rule applies (required for ``rounded``).
    """

    kind: str = "printed"
    rounded: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""

    def atol(self, text: str, spread: float) -> float:
        """The absolute allowance: the half unit (plus ``spread`` for rounded); a whole unit
        of the last decimal for the truncating rules (1 for int)."""
        if self.kind in TRUNCATING:
            return 10.0 ** (-decimals(text))
        return half_unit(text) + spread

    def agrees(self, value: float, text: str, spread: float = 0.0) -> bool:
        """Whether ``value`` is consistent with the printed ``text`` under this rule.

        ``spread`` is the radius by which the source's rounded intermediates can move the
        result (0 unless the rule is ``rounded``).
        """
        if self.kind in TRUNCATING:
            return truncates_to(value, text)
        return within_printed(value, text, spread)

    def describe(self, text: str, spread: float) -> str:
        """The tolerance reason recorded in each Finding."""
        d = decimals(text)
        places = f"{d} decimal" + ("" if d == 1 else "s")
        if self.kind in TRUNCATING:
            low, high = truncation_interval(text)
            how = (
                "printed through int(), which truncates toward zero"
                if self.kind == "int"
                else f"printed truncated toward zero after {places}, not rounded"
            )
            return (
                f"{how}: the source's value lies between {low:.{max(d, 0)}f} and "
                f"{high:.{max(d, 0)}f}; agreement within that interval, widened by float "
                f"round-off {ROUNDOFF:g}·max(1, |p|)"
            )
        rule = f"half a unit of the last printed decimal ({places}: ±{half_unit(text):.3g})"
        if self.kind == "printed":
            return rule
        rounded = ", ".join(f"{path} to {k} decimals" for path, k in self.rounded.items())
        return (
            f"{rule} plus {spread:.3g}, the most that the source's rounding of {rounded} can "
            f"move the result (interval bound); {self.reason}"
        )


@dataclass(frozen=True)
class Erratum:
    """A known mistake of the source for one printed number.

    ``correct`` is the right value as a decimal string (its decimals set the precision at
    which a computed value counts as correct), ``explanation`` what went wrong, ``evidence``
    the independent computations that establish the correct value (label -> text), and
    ``reproduced_by`` the computation found to reproduce the printed figure ("" if none).
    """

    correct: str
    explanation: str
    evidence: Mapping[str, str]
    reproduced_by: str = ""


def judge(
    value: float, printed: str, rule: Rule, spread: float, erratum: Erratum | None
) -> tuple[str, str]:
    """(verdict, reason) for a computed value against a printed number.

    Without an erratum: ``pass`` when the rule agrees, else ``fail``. With an erratum:
    ``erratum`` when the value agrees with the recorded correct value (and not with the
    printed figure); ``fail`` when it matches the printed figure — the implementation now
    reproduces the source's mistake — or when it agrees with neither.
    """
    matches_printed = rule.agrees(value, printed, spread)
    if erratum is None:
        if matches_printed:
            return "pass", ""
        difference = abs(value - float(parse_printed(printed)))
        return "fail", (
            f"computed {value:.12g} differs from the printed {printed} by {difference:.3g}, "
            f"outside the allowance of its printed precision"
        )
    if matches_printed:
        return "fail", (
            f"matches the printed {printed}, a known erratum of the source (correct value "
            f"{erratum.correct}): the implementation reproduces the source's mistake"
            + (f" ({erratum.reproduced_by})" if erratum.reproduced_by else "")
        )
    if within_printed(value, erratum.correct):
        return "erratum", (
            f"known erratum of the source: printed {printed}, correct {erratum.correct}; "
            f"{erratum.explanation}"
        )
    return "fail", (
        f"computed {value:.12g} agrees neither with the printed {printed} nor with the "
        f"recorded correct value {erratum.correct}"
    )
