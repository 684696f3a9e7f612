"""Reference files: published worked examples as data, loaded and validated.

The schema is documented in reference/README.md. :func:`load_reference` reads one file and
raises :class:`~manualbp.errors.ReferenceFileError` with a one-line message naming the file
and the field on anything malformed or inconsistent; :func:`default_references` loads the
files shipped in the package ``manualbp.reference``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from typing import Any, NoReturn, TypeVar

import numpy as np

from manualbp.architecture import Architecture
from manualbp.checks.published_paths import (
    LAYER_QUANTITIES,
    Expression,
    Path,
    PathError,
    parse_affine_path,
    parse_expression,
    parse_graph_path,
    parse_mlp_path,
)
from manualbp.checks.published_rules import RULES, Erratum, Rule, parse_printed
from manualbp.engine.graph import OPS, Operation
from manualbp.errors import BatchError, ManualbpError, ReferenceFileError, describe
from manualbp.params import Params, check_batch, check_frozen, check_params

SCHEMA_VERSION = 1
KINDS: tuple[str, ...] = ("mlp", "graph", "affine")
WEIGHT_LAYOUTS: tuple[str, ...] = ("out_in", "in_out")

#: Losses whose per-sample value is a sum over outputs of a term of that output alone, so
#: ``loss_terms[n,k]`` is defined (softmax cross-entropy couples the outputs).
PER_OUTPUT_LOSSES: tuple[str, ...] = ("half_sse", "sse", "mse", "bce")

_TOP_FIELDS = ("schema", "id", "title", "citation", "kind", "notes", "quantities", *KINDS)
_CITATION_REQUIRED = ("authors", "title", "year", "url")
_CITATION_OPTIONAL = ("publisher", "section", "code", "note")
_QUANTITY_FIELDS = ("label", "path", "printed", "rule", "erratum", "note")
_ERRATUM_FIELDS = ("correct", "explanation", "evidence", "reproduced_by")
_RULE_FIELDS = ("kind", "rounded", "reason")
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


class _Fields:
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


def _citation(source: str, data: object) -> Citation:
    fields = _Fields(source, "citation", data, (*_CITATION_REQUIRED, *_CITATION_OPTIONAL))
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


def _mlp_problem(source: str, data: object) -> MLPProblem:
    fields = _Fields(source, "mlp", data, _MLP_FIELDS)
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


def _graph_problem(source: str, data: object) -> GraphProblem:
    fields = _Fields(source, "graph", data, _GRAPH_FIELDS)
    leaves_data = fields.get("leaves", dict, "an object of leaf values")
    leaves: dict[str, float] = {}
    for name, value in leaves_data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fields.fail(f"got {describe(value)}, expected a number", f"leaves.{name}")
        leaves[name] = float(value)
    defined = set(leaves)
    operations = []
    raw_operations = fields.get("operations", list, "a list of operations")
    for position, raw in enumerate(raw_operations):
        op_fields = _Fields(source, f"graph.operations[{position}]", raw, _OPERATION_FIELDS)
        name = op_fields.text("name")
        op = op_fields.text("op")
        known = (*OPS, "add_constant")
        if op not in known:
            op_fields.fail(f"got {op!r}, expected one of {', '.join(known)}", "op")
        inputs = op_fields.get("inputs", list, "a list of leaf or operation names")
        arity = OPS[op].arity if op in OPS else 1
        if len(inputs) != arity:
            op_fields.fail(f"got {len(inputs)} inputs, expected {arity} for {op!r}", "inputs")
        for item in inputs:
            if item not in defined:
                op_fields.fail(f"{item!r} is not a leaf or an earlier operation", "inputs")
        constant = None
        if op == "add_constant":
            constant = float(op_fields.get("constant", (int, float), "a number"))
        elif op_fields.has("constant"):
            op_fields.fail(f"only add_constant takes a constant, not {op!r}", "constant")
        if name in defined:
            op_fields.fail(f"{name!r} is already defined", "name")
        defined.add(name)
        operations.append(Operation(name, op, tuple(inputs), constant))
    output = fields.text("output")
    if output not in defined:
        fields.fail(f"{output!r} is not a leaf or operation name", "output")
    return GraphProblem(leaves, tuple(operations), output)


def _affine_problem(source: str, data: object) -> AffineProblem:
    fields = _Fields(source, "affine", data, _AFFINE_FIELDS)
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


def _mlp_shape(problem: MLPProblem, path: Path) -> tuple[int, ...]:
    arch = problem.arch
    n = problem.x.shape[0]
    if path.quantity in LAYER_QUANTITIES:
        if not 1 <= path.layer <= arch.depth:
            raise PathError(f"{path.text!r}: layer {path.layer}, expected 1..{arch.depth}")
        return (n, arch.sizes[path.layer])
    if path.quantity == "loss_terms" and arch.loss not in PER_OUTPUT_LOSSES:
        raise PathError(f"{path.text!r}: loss {arch.loss!r} has no per-output terms")
    if path.quantity in ("grad", "param"):
        shapes = arch.param_shapes()
        if path.name not in shapes:
            raise PathError(
                f"{path.text!r}: no parameter {path.name}, expected {', '.join(shapes)}"
            )
        return shapes[path.name]
    fixed = {"loss": (), "loss_terms": problem.y.shape, "x": problem.x.shape, "y": problem.y.shape}
    return fixed[path.quantity]


def _graph_shape(problem: GraphProblem, path: Path) -> tuple[int, ...]:
    names = [*problem.leaves, *(operation.name for operation in problem.operations)]
    if path.name not in names:
        raise PathError(f"{path.text!r}: no leaf or operation {path.name!r}")
    return ()


def _affine_shape(problem: AffineProblem, path: Path) -> tuple[int, ...]:
    name = path.quantity.removeprefix("grad.")
    if name == "b" and problem.b is None:
        raise PathError(f"{path.text!r}: the layer has no bias")
    shapes = {
        "x": problem.x.shape,
        "W": problem.W.shape,
        "b": () if problem.b is None else problem.b.shape,
        "dz": problem.dz.shape,
        "z": problem.dz.shape,
    }
    return shapes[name]


def _parse_mlp(problem: MLPProblem, text: str) -> Path:
    path = parse_mlp_path(text, problem.train_steps)
    if path.steps and problem.learning_rate is None:
        raise PathError(f"{text!r} needs learning_rate in the file")
    return path


def _path_reader(problem: Problem) -> Callable[[str], Path]:
    """A path parser for the problem's kind that also checks the index against the shape."""
    parse: Callable[[str], Path]
    shape_of: Callable[[Path], tuple[int, ...]]
    if isinstance(problem, MLPProblem):
        parse, shape_of = partial(_parse_mlp, problem), partial(_mlp_shape, problem)
    elif isinstance(problem, GraphProblem):
        parse, shape_of = parse_graph_path, partial(_graph_shape, problem)
    else:
        parse, shape_of = parse_affine_path, partial(_affine_shape, problem)

    def read(text: str) -> Path:
        path = parse(text)
        shape = shape_of(path)
        if len(path.index) != len(shape) or any(
            not 0 <= i < n for i, n in zip(path.index, shape, strict=False)
        ):
            expected = "no index" if not shape else f"an index into shape {shape}"
            raise PathError(f"{text!r}: index {list(path.index)}, expected {expected}")
        return path

    return read


def _rule(fields: _Fields, expression: Expression, printed: str) -> Rule:
    if not fields.has("rule"):
        return Rule()
    raw = fields.data["rule"]
    if isinstance(raw, str):
        raw = {"kind": raw}
    rule_fields = _Fields(fields.source, fields.field_name("rule"), raw, _RULE_FIELDS)
    kind = rule_fields.text("kind")
    if kind not in RULES:
        rule_fields.fail(f"got {kind!r}, expected one of {', '.join(RULES)}", "kind")
    if kind == "int" and parse_printed(printed) != int(parse_printed(printed)):
        rule_fields.fail(f"printed {printed!r} is not an integer, as int() prints", "kind")
    if kind != "rounded":
        if rule_fields.has("rounded"):
            rule_fields.fail(
                f"only the 'rounded' rule takes intermediates, not {kind!r}", "rounded"
            )
        return Rule(kind, {}, rule_fields.text("reason", ""))
    rounded_data = rule_fields.get("rounded", dict, "an object {path: decimals}")
    read = {path.text for path in expression.paths}
    rounded: dict[str, int] = {}
    for text, places in rounded_data.items():
        key = "".join(text.split())
        if key not in read:
            rule_fields.fail(f"{text!r} is not a path of {expression.text!r}", "rounded")
        if isinstance(places, bool) or not isinstance(places, int) or places < 0:
            rule_fields.fail(f"{text!r}: got {describe(places)}, expected decimals >= 0", "rounded")
        rounded[key] = places
    if not rounded:
        rule_fields.fail("is empty, expected at least one rounded intermediate", "rounded")
    return Rule("rounded", rounded, rule_fields.text("reason"))


def _erratum(fields: _Fields) -> Erratum | None:
    if not fields.has("erratum"):
        return None
    erratum_fields = _Fields(
        fields.source, fields.field_name("erratum"), fields.data["erratum"], _ERRATUM_FIELDS
    )
    correct = erratum_fields.text("correct")
    erratum_fields.wrap("correct", lambda: parse_printed(correct))
    evidence = erratum_fields.get("evidence", dict, "an object {method: result}")
    if not evidence or not all(isinstance(v, str) and v.strip() for v in evidence.values()):
        erratum_fields.fail("expected a non-empty object of method: result texts", "evidence")
    return Erratum(
        correct=correct,
        explanation=erratum_fields.text("explanation"),
        evidence=dict(evidence),
        reproduced_by=erratum_fields.text("reproduced_by", ""),
    )


def _quantity(
    source: str, position: int, data: object, read: Callable[[str], Path]
) -> PublishedQuantity:
    fields = _Fields(source, f"quantities[{position}]", data, _QUANTITY_FIELDS)
    label = fields.text("label")
    expression = fields.wrap("path", lambda: parse_expression(fields.text("path"), read))
    printed = fields.text("printed")
    fields.wrap("printed", lambda: parse_printed(printed))
    return PublishedQuantity(
        label=label,
        expression=expression,
        printed=printed.strip(),
        rule=_rule(fields, expression, printed),
        erratum=_erratum(fields),
        note=fields.text("note", ""),
    )


def parse_reference(data: object, source: str = "<reference>") -> ReferenceExample:
    """Validate a decoded reference file and build its :class:`ReferenceExample`.

    ``source`` names the file in error messages. Raises :class:`ReferenceFileError`.
    """
    fields = _Fields(source, "", data, _TOP_FIELDS)
    schema = fields.get("schema", int, f"the schema version {SCHEMA_VERSION}", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        fields.fail(f"got {schema}, expected {SCHEMA_VERSION}", "schema")
    identifier = fields.text("id")
    if not fields.has("citation"):
        fields.fail("missing, expected authors, title, year and url of the source", "citation")
    citation = _citation(source, fields.data["citation"])
    kind = fields.text("kind")
    if kind not in KINDS:
        fields.fail(f"got {kind!r}, expected one of {', '.join(KINDS)}", "kind")
    for other in KINDS:
        if other != kind and fields.has(other):
            fields.fail(f"given, but the kind is {kind!r}", other)
    if not fields.has(kind):
        fields.fail(f"missing, expected the {kind} description for kind {kind!r}", kind)
    build = {"mlp": _mlp_problem, "graph": _graph_problem, "affine": _affine_problem}[kind]
    problem = build(source, fields.data[kind])
    raw_quantities = fields.get("quantities", list, "a non-empty list of printed quantities")
    if not raw_quantities:
        fields.fail("is empty, expected at least one printed quantity", "quantities")
    read = _path_reader(problem)
    quantities = tuple(
        _quantity(source, position, raw, read) for position, raw in enumerate(raw_quantities)
    )
    return ReferenceExample(
        id=identifier,
        kind=kind,
        title=fields.text("title", identifier),
        citation=citation,
        problem=problem,
        quantities=quantities,
        source=source,
        notes=fields.text("notes", ""),
    )


def load_reference(path: str | os.PathLike[str]) -> ReferenceExample:
    """Read and validate one reference file (JSON); raises :class:`ReferenceFileError`."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReferenceFileError(f"{source}: cannot read ({exc.strerror or exc})") from None
    return _decode(text, source)


def _decode(text: str, source: str) -> ReferenceExample:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReferenceFileError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_reference(data, source)


#: Source label prefix of the built-in worked examples (not a path: they live in the package).
BUILTIN_PREFIX = "manualbp.reference/"


def default_references() -> list[ReferenceExample]:
    """The worked examples shipped in ``manualbp.reference`` (every ``*.json``, by name),
    each with the source label ``manualbp.reference/<file>`` (:data:`BUILTIN_PREFIX`)."""
    folder = files("manualbp.reference")
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )
    return [
        _decode(entry.read_text(encoding="utf-8"), BUILTIN_PREFIX + entry.name) for entry in entries
    ]
