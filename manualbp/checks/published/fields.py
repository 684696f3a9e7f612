"""Reading the blocks of a reference file: its citation and the problem of each kind.

:class:`Fields` reads one JSON object and raises :class:`~manualbp.errors.ReferenceFileError`
naming the file and the field on anything missing, unknown or malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import numpy as np

from manualbp.architecture import Architecture
from manualbp.checks.published.paths import PathError
from manualbp.checks.published.problems import (
    WEIGHT_LAYOUTS,
    AffineProblem,
    Citation,
    GraphProblem,
    MLPProblem,
)
from manualbp.errors import BatchError, ManualbpError, ReferenceFileError, describe
from manualbp.graphs import OPERATIONS, SEPARATOR, WITH_CONSTANT, Operation, arity_error
from manualbp.params import check_batch, check_frozen, check_params

_CITATION_REQUIRED = ("authors", "title", "year", "url")
_CITATION_OPTIONAL = ("publisher", "section", "code", "note")
_MLP_FIELDS = (
    "network",
    "params",
    "inputs",
    "targets",
    "learning_rate",
    "frozen",
    "train_steps",
)
_GRAPH_FIELDS = ("leaves", "operations", "output")
_OPERATION_FIELDS = ("name", "op", "inputs", "constant")
_AFFINE_FIELDS = ("x", "W", "b", "dz", "bias", "weight_layout")

T = TypeVar("T")


class Fields:
    """Reads the fields of one JSON object, raising ReferenceFileError naming file and field."""

    def __init__(self, source: str, where: str, data: object, allowed: Sequence[str]) -> None:
        self.source = source
        self.where = where
        if not isinstance(data, Mapping):
            self.fail(f"got {describe(data)}, expected an object")
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            self.fail(f"unknown field(s) {', '.join(unknown)}, expected only {', '.join(allowed)}")
        self.data: Mapping[str, Any] = data

    def field_name(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, message: str, name: str = "") -> NoReturn:
        where = self.field_name(name) if name else (self.where or "file")
        raise ReferenceFileError(f"{self.source}: {where}: {message}")

    def has(self, name: str) -> bool:
        return name in self.data

    def get(
        self, name: str, kind: type | tuple[type, ...], expected: str, default: Any = None
    ) -> Any:
        if name not in self.data:
            if default is not None:
                return default
            self.fail(f"missing, expected {expected}", name)
        value = self.data[name]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.fail(f"got {describe(value)}, expected {expected}", name)
        if not isinstance(value, kind):
            self.fail(f"got {describe(value)}, expected {expected}", name)
        return value

    def text(self, name: str, default: str | None = None) -> str:
        value = self.get(name, str, "a non-empty string", default)
        if not value.strip() and default is None:
            self.fail("is empty, expected a non-empty string", name)
        return value

    def array(self, name: str) -> np.ndarray:
        value = self.get(name, (list, int, float), "a number or nested list of numbers")
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            self.fail(f"got {describe(value)}, expected a number or a rectangular list", name)
        if not np.all(np.isfinite(array)):
            self.fail("contains NaN or inf, expected finite numbers", name)
        return array

    def wrap(self, name: str, parse: Callable[[], T]) -> T:
        """Run ``parse``; a ManualbpError or ValueError it raises names this field."""
        try:
            return parse()
        except ReferenceFileError:
            raise
        except (ManualbpError, PathError, ValueError, TypeError) as exc:
            self.fail(str(exc), name)


def read_citation(source: str, data: object) -> Citation:
    fields = Fields(source, "citation", data, (*_CITATION_REQUIRED, *_CITATION_OPTIONAL))
    for name in _CITATION_REQUIRED:
        if not fields.has(name):
            fields.fail(f"missing, expected {', '.join(_CITATION_REQUIRED)}", name)
    authors = fields.get("authors", list, "a non-empty list of author names")
    if not authors or not all(isinstance(a, str) and a.strip() for a in authors):
        fields.fail(f"got {describe(authors)}, expected a non-empty list of names", "authors")
    year = fields.get("year", int, "a year such as 2015")
    return Citation(
        authors=tuple(authors),
        title=fields.text("title"),
        year=year,
        url=fields.text("url"),
        **{name: fields.text(name, "") for name in _CITATION_OPTIONAL},
    )


def read_mlp_problem(source: str, data: object) -> MLPProblem:
    fields = Fields(source, "mlp", data, _MLP_FIELDS)
    arch = fields.wrap(
        "network", lambda: Architecture.from_dict(fields.get("network", dict, "an Architecture"))
    )
    params_data = fields.get("params", dict, "an object of parameter arrays")
    params = fields.wrap(
        "params",
        lambda: check_params(
            arch, {name: np.asarray(value, dtype=np.float64) for name, value in params_data.items()}
        ),
    )
    try:
        x, y = check_batch(arch, fields.array("inputs"), fields.array("targets"))
    except BatchError as exc:
        # check_batch names the array "x" or "y"; the file calls them inputs and targets
        array, _, message = str(exc).partition(": ")
        fields.fail(message, "inputs" if array == "x" else "targets")
    learning_rate = None
    if fields.has("learning_rate"):
        learning_rate = float(fields.get("learning_rate", (int, float), "a positive number"))
        if not learning_rate > 0:
            fields.fail(f"got {learning_rate}, expected a positive number", "learning_rate")
    frozen_names = fields.get("frozen", list, "a list of parameter names", [])
    frozen = fields.wrap("frozen", lambda: check_frozen(arch, frozen_names))
    train_steps = None
    if fields.has("train_steps"):
        train_steps = fields.get("train_steps", int, "a positive integer")
        if train_steps < 1:
            fields.fail(f"got {train_steps}, expected a positive integer", "train_steps")
    return MLPProblem(arch, params, x, y, learning_rate, frozen, train_steps)


def read_graph_problem(source: str, data: object) -> GraphProblem:
    fields = Fields(source, "graph", data, _GRAPH_FIELDS)
    leaves_data = fields.get("leaves", dict, "an object of leaf values")
    leaves: dict[str, float] = {}
    for name, value in leaves_data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fields.fail(f"got {describe(value)}, expected a number", f"leaves.{name}")
        if SEPARATOR in name:
            fields.fail(f"{name!r} contains {SEPARATOR!r}, expected a plain name", "leaves")
        leaves[name] = float(value)
    defined = set(leaves)
    operations = []
    raw_operations = fields.get("operations", list, "a list of operations")
    for position, raw in enumerate(raw_operations):
        op_fields = Fields(source, f"graph.operations[{position}]", raw, _OPERATION_FIELDS)
        name = op_fields.text("name")
        if SEPARATOR in name:
            op_fields.fail(f"{name!r} contains {SEPARATOR!r}, expected a plain name", "name")
        op = op_fields.text("op")
        if op not in OPERATIONS:
            op_fields.fail(f"got {op!r}, expected one of {', '.join(OPERATIONS)}", "op")
        inputs = op_fields.get("inputs", list, "a list of leaf or operation names")
        wrong_count = arity_error(op, len(inputs))
        if wrong_count:
            op_fields.fail(wrong_count, "inputs")
        for item in inputs:
            if item not in defined:
                op_fields.fail(f"{item!r} is not a leaf or an earlier operation", "inputs")
        constant = None
        if op in WITH_CONSTANT:
            constant = float(op_fields.get("constant", (int, float), "a number"))
            if not np.isfinite(constant):
                op_fields.fail(f"got {constant}, expected a finite number", "constant")
        elif op_fields.has("constant"):
            op_fields.fail(
                f"only {' and '.join(WITH_CONSTANT)} take a constant, not {op!r}", "constant"
            )
        if name in defined:
            op_fields.fail(f"{name!r} is already defined", "name")
        defined.add(name)
        operations.append(Operation(name, op, tuple(inputs), constant))
    output = fields.text("output")
    if output not in defined:
        fields.fail(f"{output!r} is not a leaf or operation name", "output")
    return GraphProblem(leaves, tuple(operations), output)


def read_affine_problem(source: str, data: object) -> AffineProblem:
    fields = Fields(source, "affine", data, _AFFINE_FIELDS)
    layout = fields.text("weight_layout", "out_in")
    if layout not in WEIGHT_LAYOUTS:
        fields.fail(f"got {layout!r}, expected one of {', '.join(WEIGHT_LAYOUTS)}", "weight_layout")
    bias = fields.text("bias", "per_unit")
    x, W, dz = fields.array("x"), fields.array("W"), fields.array("dz")
    if x.ndim != 2 or W.ndim != 2:
        fields.fail(f"x has shape {x.shape} and W {W.shape}, expected two matrices", "x")
    units, inputs = W.shape if layout == "out_in" else W.shape[::-1]
    if x.shape[1] != inputs:
        fields.fail(f"got shape {x.shape}, expected (N, {inputs}) to match W", "x")
    if dz.shape != (x.shape[0], units):
        fields.fail(f"got shape {dz.shape}, expected {(x.shape[0], units)}", "dz")
    b_shapes = {"per_unit": (units,), "shared": ()}
    if bias not in (*b_shapes, "none"):
        fields.fail(f"got {bias!r}, expected per_unit, shared or none", "bias")
    b = None
    if bias == "none":
        if fields.has("b"):
            fields.fail("given, but bias is 'none'", "b")
    else:
        b = fields.array("b")
        if b.shape != b_shapes[bias]:
            fields.fail(f"got shape {b.shape}, expected {b_shapes[bias]} for {bias}", "b")
    return AffineProblem(x, W, b, dz, bias, layout)
