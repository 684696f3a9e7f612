"""What a worked example is: its citation, the problem it solves, and the figures it prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from manualbp.architecture import Architecture
from manualbp.checks.published.paths import Expression
from manualbp.checks.published.rules import Erratum, Rule
from manualbp.graphs import Operation
from manualbp.params import Params

KINDS: tuple[str, ...] = ("mlp", "graph", "affine")
WEIGHT_LAYOUTS: tuple[str, ...] = ("out_in", "in_out")


@dataclass(frozen=True)
class Citation:
    """Where the published numbers come from."""

    authors: tuple[str, ...]
    title: str
    year: int
    url: str
    publisher: str = ""
    section: str = ""
    code: str = ""
    note: str = ""

    def text(self) -> str:
        """One line: ``authors (year). title. publisher, section. url``."""
        parts = [f"{', '.join(self.authors)} ({self.year}). {self.title}."]
        where = ", ".join(part for part in (self.publisher, self.section) if part)
        if where:
            parts.append(f"{where}.")
        parts.append(self.url)
        return " ".join(parts)


@dataclass(frozen=True)
class PublishedQuantity:
    """One printed number: its label in the source, the expression that computes it, the
    text as printed, the comparison rule and, if the source got it wrong, the erratum."""

    label: str
    expression: Expression
    printed: str
    rule: Rule
    erratum: Erratum | None = None
    note: str = ""

    @property
    def name(self) -> str:
        """``label (path)``, how Findings name the quantity."""
        return f"{self.label} ({self.expression.text})"


@dataclass(frozen=True)
class MLPProblem:
    """An MLP, its initial parameters and batch, and how the source trains it."""

    arch: Architecture
    params: Params
    x: np.ndarray
    y: np.ndarray
    learning_rate: float | None
    frozen: frozenset[str]
    train_steps: int | None


@dataclass(frozen=True)
class GraphProblem:
    """A scalar computational graph: leaf values, operations in order, the output node."""

    leaves: Mapping[str, float]
    operations: tuple[Operation, ...]
    output: str


@dataclass(frozen=True)
class AffineProblem:
    """One affine layer z = x·Wᵀ + b on a batch, with the upstream gradient dz = ∂E/∂z.

    ``W`` is kept in the file's layout: ``out_in`` (units, inputs), manualbp's, or
    ``in_out`` (inputs, units), as in Y = X·W of Saito; :attr:`W_out_in` is manualbp's.
    """

    x: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    dz: np.ndarray
    bias: str
    weight_layout: str

    @property
    def W_out_in(self) -> np.ndarray:
        """W in manualbp's (units, inputs) layout."""
        return self.W if self.weight_layout == "out_in" else self.W.T


Problem = MLPProblem | GraphProblem | AffineProblem


@dataclass(frozen=True)
class ReferenceExample:
    """One worked example: its id, citation, the problem it solves and what it prints.

    ``source`` is the file it was read from (how a report tells where to look).
    """

    id: str
    kind: str
    title: str
    citation: Citation
    problem: Problem
    quantities: tuple[PublishedQuantity, ...]
    source: str
    notes: str = ""
