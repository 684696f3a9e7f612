"""Reference files: published worked examples as data, loaded and validated.

The schema is documented in reference/README.md, and written as a JSON Schema in
reference/reference.schema.json (:func:`schema`) for users and their editors; manualbp
itself validates with its own reader, which needs no JSON Schema library and also checks
what a schema cannot (paths against the network, shapes). :func:`load_reference` reads one
file and raises :class:`~manualbp.errors.ReferenceFileError` with a one-line message naming
the file and the field on anything malformed or inconsistent; :func:`default_references`
loads the files shipped in the package ``manualbp.reference``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import partial
from importlib.resources import files

from manualbp.checks.published.fields import (
    Fields,
    read_affine_problem,
    read_citation,
    read_graph_problem,
    read_mlp_problem,
)
from manualbp.checks.published.paths import (
    LAYER_QUANTITIES,
    Expression,
    Path,
    PathError,
    parse_affine_path,
    parse_expression,
    parse_graph_path,
    parse_mlp_path,
)
from manualbp.checks.published.problems import (
    KINDS,
    AffineProblem,
    GraphProblem,
    MLPProblem,
    Problem,
    PublishedQuantity,
    ReferenceExample,
)
from manualbp.checks.published.rules import RULES, Erratum, Rule, parse_printed
from manualbp.errors import ReferenceFileError, describe
from manualbp.facts import LOSS_FACTS

SCHEMA_VERSION = 1

_TOP_FIELDS = (
    "$schema",
    "schema",
    "id",
    "title",
    "citation",
    "kind",
    "notes",
    "quantities",
    *KINDS,
)
#: The JSON Schema of reference files, shipped next to them for users and their editors.
SCHEMA_FILE = "reference.schema.json"
_QUANTITY_FIELDS = ("label", "path", "printed", "rule", "erratum", "note")
_ERRATUM_FIELDS = ("correct", "explanation", "evidence", "reproduced_by")
_RULE_FIELDS = ("kind", "rounded", "reason")


def _mlp_shape(problem: MLPProblem, path: Path) -> tuple[int, ...]:
    arch = problem.arch
    n = problem.x.shape[0]
    if path.quantity in LAYER_QUANTITIES:
        if not 1 <= path.layer <= arch.depth:
            raise PathError(f"{path.text!r}: layer {path.layer}, expected 1..{arch.depth}")
        return (n, arch.sizes[path.layer])
    if path.quantity == "loss_terms" and not LOSS_FACTS[arch.loss].per_output_terms:
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


def _rule(fields: Fields, expression: Expression, printed: str) -> Rule:
    if not fields.has("rule"):
        return Rule()
    raw = fields.data["rule"]
    if isinstance(raw, str):
        raw = {"kind": raw}
    rule_fields = Fields(fields.source, fields.field_name("rule"), raw, _RULE_FIELDS)
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


def _erratum(fields: Fields) -> Erratum | None:
    if not fields.has("erratum"):
        return None
    erratum_fields = Fields(
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
    fields = Fields(source, f"quantities[{position}]", data, _QUANTITY_FIELDS)
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
    fields = Fields(source, "", data, _TOP_FIELDS)
    fields.get("$schema", str, "the URL or path of reference.schema.json", "")
    schema = fields.get("schema", int, f"the schema version {SCHEMA_VERSION}", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        fields.fail(f"got {schema}, expected {SCHEMA_VERSION}", "schema")
    identifier = fields.text("id")
    if not fields.has("citation"):
        fields.fail("missing, expected authors, title, year and url of the source", "citation")
    citation = read_citation(source, fields.data["citation"])
    kind = fields.text("kind")
    if kind not in KINDS:
        fields.fail(f"got {kind!r}, expected one of {', '.join(KINDS)}", "kind")
    for other in KINDS:
        if other != kind and fields.has(other):
            fields.fail(f"given, but the kind is {kind!r}", other)
    if not fields.has(kind):
        fields.fail(f"missing, expected the {kind} description for kind {kind!r}", kind)
    build = {"mlp": read_mlp_problem, "graph": read_graph_problem, "affine": read_affine_problem}[
        kind
    ]
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


def schema() -> dict:
    """The JSON Schema of reference files (reference/reference.schema.json), decoded."""
    text = (files("manualbp.reference") / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


#: Source label prefix of the built-in worked examples (not a path: they live in the package).
BUILTIN_PREFIX = "manualbp.reference/"


def default_references() -> list[ReferenceExample]:
    """The worked examples shipped in ``manualbp.reference`` (every ``*.json`` but the
    schema, by name), each with the source label ``manualbp.reference/<file>``
    (:data:`BUILTIN_PREFIX`)."""
    folder = files("manualbp.reference")
    entries = sorted(
        (
            entry
            for entry in folder.iterdir()
            if entry.name.endswith(".json") and not entry.name.endswith(".schema.json")
        ),
        key=lambda entry: entry.name,
    )
    return [
        _decode(entry.read_text(encoding="utf-8"), BUILTIN_PREFIX + entry.name) for entry in entries
    ]
