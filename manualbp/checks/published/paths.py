"""Quantity paths and arithmetic expressions of the published-numbers reference files.

A *path* names one number a worked example prints. Which paths exist depends on the kind of
example (reference/README.md lists them all):

* ``mlp``    ``loss``, ``loss_terms[n,k]``, ``z.l[n,k]``, ``a.l[n,k]``, ``delta.l[n,k]``,
  ``dE_da.l[n,k]``, ``da_dz.l[n,k]``, ``grad.W2[i,j]``, ``W2[i,j]``, ``b1``, ``x[n,i]``,
  ``y[n,k]``; every one except ``x`` and ``y`` may be prefixed by a training state,
  ``step3.`` (after three updates) or ``trained.`` (after the file's ``train_steps``);
* ``graph``  ``value.NAME`` and ``grad.NAME`` (∂output/∂NAME) of a scalar graph;
* ``affine`` ``x``, ``W``, ``b``, ``dz`` (the inputs), ``z`` (the output) and ``grad.x``,
  ``grad.W``, ``grad.b``, each with an index when it is an array.

A quantity is a path or a small expression over paths — sums, differences, products,
negation and numbers, e.g. ``delta.2[0,0] * W2[0,0]`` for the chain-rule factor ∂E_o1/∂out_h1.
Expressions are parsed with :mod:`ast` and checked against a whitelist of node types; they
are never passed to ``eval``. They are evaluated over :class:`Interval` values, so the effect
of a source's rounded intermediates on the result is bounded exactly (see
:mod:`manualbp.checks.published.rules`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: Per-layer quantities of an MLP: each is (N, n_l) for layer l = 1..L.
LAYER_QUANTITIES: tuple[str, ...] = ("z", "a", "delta", "dE_da", "da_dz")

#: An optional index such as ``[0,1]`` (paths are matched with their spaces removed).
_INDEX = r"(?:\[(?P<index>\d+(?:,\d+)*)\])?"
_STATE = re.compile(r"^(?:(?:step(?P<steps>[1-9]\d*)|(?P<trained>trained))\.)?(?P<body>.+)$")
_MLP_BODY = (
    re.compile(r"^(?P<quantity>loss)$"),
    re.compile(r"^(?P<quantity>loss_terms)" + _INDEX + "$"),
    re.compile(
        r"^(?P<quantity>" + "|".join(LAYER_QUANTITIES) + r")\.(?P<layer>\d+)" + _INDEX + "$"
    ),
    re.compile(r"^(?P<quantity>grad)\.(?P<name>[Wb]\d+)" + _INDEX + "$"),
    re.compile(r"^(?P<name>[Wb]\d+)" + _INDEX + "$"),
    re.compile(r"^(?P<quantity>x|y)" + _INDEX + "$"),
)
_GRAPH_PATH = re.compile(r"^(?P<quantity>value|grad)\.(?P<name>[A-Za-z_]\w*)$")
_AFFINE_PATH = re.compile(r"^(?P<quantity>x|W|b|dz|z|grad\.x|grad\.W|grad\.b)" + _INDEX + "$")

#: A path inside an expression: starts with a letter, not right after a digit, a dot or a
#: bracket (so the ``e`` of ``1e-3`` is not a path), dotted parts, an optional index.
_PATH_TOKEN = re.compile(r"(?<![\w.\]])[A-Za-z_]\w*(?:\.\w+)*(?:\s*\[[^\]]*\])?")

_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.USub,
    ast.UAdd,
    ast.Constant,
    ast.Name,
    ast.Load,
)


class PathError(ValueError):
    """A path or expression is malformed; the message says what was expected."""


@dataclass(frozen=True)
class Path:
    """One addressable number of a worked example.

    ``quantity`` is what to read (``loss``, ``a``, ``grad``, ``param``, ``value``, ...),
    ``layer`` the MLP layer (1..L, or 0 when not per-layer), ``name`` a parameter or graph
    node name, ``index`` the entry of an array (``()`` for a scalar), ``steps`` the number of
    gradient-descent updates applied before reading it (0 for the initial parameters), and
    ``text`` the path as written, without spaces.
    """

    text: str
    quantity: str
    layer: int = 0
    name: str = ""
    index: tuple[int, ...] = ()
    steps: int = 0


def mlp_path(
    quantity: str, *, steps: int = 0, layer: int = 0, name: str = "", index: tuple[int, ...] = ()
) -> Path:
    """The MLP :class:`Path` with these fields, its ``text`` as a file writes it
    (``step2.delta.1[0,1]``, ``grad.W2[1,0]``, ``b1[0]``, ``x[0,2]``)."""
    at = f"[{','.join(map(str, index))}]" if index else ""
    if quantity in LAYER_QUANTITIES:
        body = f"{quantity}.{layer}{at}"
    elif quantity == "grad":
        body = f"grad.{name}{at}"
    elif quantity == "param":
        body = f"{name}{at}"
    else:
        body = f"{quantity}{at}"
    if quantity in ("x", "y"):
        steps = 0  # inputs and targets do not change with training
    prefix = f"step{steps}." if steps else ""
    return Path(prefix + body, quantity, layer, name, index, steps)


def path_key(path: Path) -> tuple[object, ...]:
    """What a path names, whatever its text (``trained.`` and ``step10000.`` alike)."""
    return (path.quantity, path.layer, path.name, path.index, path.steps)


def _index(text: str | None) -> tuple[int, ...]:
    return () if text is None else tuple(int(part) for part in text.split(","))


def parse_mlp_path(text: str, train_steps: int | None) -> Path:
    """Parse an MLP path such as ``trained.a.2[0,1]``; ``trained`` needs ``train_steps``."""
    compact = "".join(text.split())
    state = _STATE.match(compact)
    body = state.group("body") if state else compact
    for pattern in _MLP_BODY:
        match = pattern.match(body)
        if match is None:
            continue
        groups = match.groupdict()
        quantity = groups.get("quantity") or "param"
        steps = 0
        if state and state.group("steps"):
            steps = int(state.group("steps"))
        elif state and state.group("trained"):
            if train_steps is None:
                raise PathError(f"{text!r} uses 'trained.', which needs train_steps in the file")
            steps = train_steps
        if quantity in ("x", "y") and steps:
            raise PathError(f"{text!r}: inputs x and targets y do not change with training")
        return Path(
            text=compact,
            quantity=quantity,
            layer=int(groups.get("layer") or 0),
            name=groups.get("name") or "",
            index=_index(groups.get("index")),
            steps=steps,
        )
    raise PathError(
        f"unknown quantity {text!r}, expected [stepK.|trained.] followed by loss, "
        "loss_terms[n,k], z|a|delta|dE_da|da_dz.l[n,k], grad.<param>[i,j], <param>[i,j], "
        "or x|y[n,i]"
    )


def parse_graph_path(text: str) -> Path:
    """Parse a graph path ``value.NAME`` or ``grad.NAME``."""
    compact = "".join(text.split())
    match = _GRAPH_PATH.match(compact)
    if match is None:
        raise PathError(f"unknown quantity {text!r}, expected value.NAME or grad.NAME")
    return Path(text=compact, quantity=match.group("quantity"), name=match.group("name"))


def parse_affine_path(text: str) -> Path:
    """Parse an affine-layer path such as ``grad.x[1,0]`` or ``z[0,2]``."""
    compact = "".join(text.split())
    match = _AFFINE_PATH.match(compact)
    if match is None:
        raise PathError(
            f"unknown quantity {text!r}, expected x, W, b, dz, z, grad.x, grad.W or grad.b "
            "with an index"
        )
    return Path(text=compact, quantity=match.group("quantity"), index=_index(match["index"]))


@dataclass(frozen=True)
class Interval:
    """The closed interval [lo, hi]; a number is the degenerate interval [v, v].

    Sums, differences, products and negation of intervals contain every result the same
    operation gives on members of the operands (up to float rounding of the end points).
    """

    lo: float
    hi: float

    @classmethod
    def point(cls, value: float) -> Interval:
        """[value, value]."""
        return cls(value, value)

    @classmethod
    def around(cls, value: float, radius: float) -> Interval:
        """[value - radius, value + radius]."""
        return cls(value - radius, value + radius)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: Interval) -> Interval:
        return Interval(self.lo - other.hi, self.hi - other.lo)

    def __mul__(self, other: Interval) -> Interval:
        products = (
            self.lo * other.lo,
            self.lo * other.hi,
            self.hi * other.lo,
            self.hi * other.hi,
        )
        return Interval(min(products), max(products))

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __pos__(self) -> Interval:
        return self

    def radius_about(self, value: float) -> float:
        """The largest distance from ``value`` to a member: max(hi - value, value - lo)."""
        return max(self.hi - value, value - self.lo, 0.0)


_OPERATORS: dict[type, Callable[..., Interval]] = {
    ast.Add: Interval.__add__,
    ast.Sub: Interval.__sub__,
    ast.Mult: Interval.__mul__,
    ast.USub: Interval.__neg__,
    ast.UAdd: Interval.__pos__,
}


@dataclass(frozen=True)
class Expression:
    """A quantity: paths combined with +, -, * , unary minus and numbers.

    ``text`` is the expression as written; ``leaves`` maps a placeholder name of the parsed
    tree to the :class:`Path` it stands for.
    """

    text: str
    tree: ast.Expression
    leaves: Mapping[str, Path]

    @property
    def paths(self) -> tuple[Path, ...]:
        """The distinct paths the expression reads, in order of appearance."""
        unique: dict[str, Path] = {}
        for path in self.leaves.values():
            unique.setdefault(path.text, path)
        return tuple(unique.values())

    def evaluate(self, leaf: Callable[[Path], Interval]) -> Interval:
        """The expression's value with every path replaced by ``leaf(path)``."""

        def visit(node: ast.expr) -> Interval:
            if isinstance(node, ast.Constant):
                return Interval.point(float(node.value))
            if isinstance(node, ast.Name):
                return leaf(self.leaves[node.id])
            if isinstance(node, ast.UnaryOp):
                return _OPERATORS[type(node.op)](visit(node.operand))
            assert isinstance(node, ast.BinOp), "parse_expression admits no other node"
            return _OPERATORS[type(node.op)](visit(node.left), visit(node.right))

        return visit(self.tree.body)


def parse_expression(text: str, parse_path: Callable[[str], Path]) -> Expression:
    """Parse ``text`` into an :class:`Expression`, each path read by ``parse_path``.

    Raises :class:`PathError` for an unknown path or anything beyond + - * , unary minus,
    numbers and paths (no names, calls, attributes, division or powers).
    """
    if not isinstance(text, str) or not text.strip():
        raise PathError(f"got {text!r}, expected a quantity path or expression")
    leaves: dict[str, Path] = {}

    def placeholder(match: re.Match[str]) -> str:
        name = f"_q{len(leaves)}"
        leaves[name] = parse_path(match.group(0))
        return name

    skeleton = _PATH_TOKEN.sub(placeholder, text)
    if not leaves:
        raise PathError(f"{text!r} reads no quantity, expected at least one path")
    try:
        tree = ast.parse(skeleton.strip(), mode="eval")
    except SyntaxError:
        raise PathError(f"{text!r} is not a valid expression of paths") from None
    for node in ast.walk(tree):
        allowed = isinstance(node, _ALLOWED_NODES)
        if isinstance(node, ast.Constant):
            allowed = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            allowed = node.id in leaves
        if not allowed:
            raise PathError(
                f"{text!r} uses {type(node).__name__}, expected only paths, numbers, +, - and *"
            )
    return Expression(text=text, tree=tree, leaves=leaves)
