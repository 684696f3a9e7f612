"""The ``published`` check of a layer: worked examples computed by the user's own layers.

Runs when the kind is asserted. Each printed number is judged at its printed precision by
:func:`manualbp.checks.published.quantity_finding`, as for an MLP:

* ``affine`` — the ``affine`` reference files (Saito's batch Y = X·W + B): the layer's
  forward on the file's x, W (turned into the (in, out) layout), b, and its backward on the
  file's upstream gradient give ``z``, ``grad.x``, ``grad.W``, ``grad.b``;
* ``add``, ``multiply``, ``max`` — the ``graph`` reference files (Saito's apples and
  oranges): one node object (or functional state) per operation, every forward in order
  from the leaves, then every backward in reverse from d(output) = 1, summing the gradients
  of a value used twice. The user's nodes take two inputs, so the graph is first rewritten
  by :func:`manualbp.graphs.binary_form`: an add or multiply of n inputs becomes a chain of
  n - 1 two-input nodes, ``add_constant`` / ``multiply_constant`` an add / multiply node
  with the constant as a leaf. An operation is computed by the node of its kind: the layer
  under check or one of ``nodes`` (the other layers given, by kind). A graph is judged
  once, by the node of its first operation; a graph that needs a node nobody gave is
  ``skipped``.

A kind no worked example uses gets one ``skipped`` Finding saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from manualbp.checks.layer.calls import LayerCall, LayerFault, LayerSubject
from manualbp.checks.layer.space import LayerCase
from manualbp.checks.published import case_finding
from manualbp.findings import Finding
from manualbp.graphs import Operation, binary_form

CHECK = "published"
GRAPH_KINDS = ("add", "multiply", "max")


def _scalar_case(reference: Any, subject: LayerSubject, x: float, y: float) -> LayerCase:
    values = {"x": np.float64(x), "y": np.float64(y)}
    return LayerCase(
        reference.id, 0, subject.kind.name if subject.kind else None, values, out_shape=()
    )


def _binary_operations(reference: Any) -> tuple[tuple[Operation, ...], dict[str, float]]:
    """The graph of a reference with two-input add and multiply nodes only, and its leaves."""
    return binary_form(reference.problem.operations, reference.problem.leaves)


def graph_values(reference: Any, nodes: Mapping[str, LayerSubject]) -> dict[str, dict[str, float]]:
    """{"value": {name: v}, "grad": {name: ∂output/∂name}} of a graph reference computed by
    the given nodes (by kind), on its binary form. Raises LayerFault."""
    problem = reference.problem
    operations, leaves = _binary_operations(reference)
    values = {name: float(v) for name, v in leaves.items()}
    states = []
    for operation in operations:
        subject = nodes[operation.op]
        a, b = (values[name] for name in operation.inputs)
        call = LayerCall(subject, _scalar_case(reference, subject, a, b), {})
        out = call.forward({"x": np.float64(a), "y": np.float64(b)})
        values[operation.name] = float(out)
        states.append((operation, call))
    grads = dict.fromkeys(values, 0.0)
    grads[problem.output] = 1.0
    for operation, call in reversed(states):
        upstream = grads[operation.name]
        returned = call.backward(np.float64(upstream))
        for name, gradient in zip(operation.inputs, (returned["dx"], returned["dy"]), strict=True):
            if np.shape(gradient) != ():
                raise LayerFault(
                    "backward",
                    f"{call.name} returned a gradient of shape "
                    f"{np.shape(gradient)} for scalar inputs, expected a scalar",
                )
            grads[name] += float(gradient)
    return {"value": values, "grad": grads}


def affine_values(reference: Any, subject: LayerSubject) -> dict[str, np.ndarray]:
    """The affine reference's inputs, z and gradients computed by ``subject``: W and grad.W
    in the file's layout. Raises LayerFault."""
    p = reference.problem
    w = p.W if p.weight_layout == "in_out" else p.W.T
    values = {"x": p.x, "w": w, "b": p.b}
    case = LayerCase(reference.id, 0, "affine", values, out_shape=p.dz.shape)
    copies = {name: np.array(value, dtype=np.float64) for name, value in values.items()}
    call = LayerCall(subject, case, copies)
    z = call.forward(copies)
    grads = call.backward(np.array(p.dz, dtype=np.float64))
    dw = grads["dw"] if p.weight_layout == "in_out" else grads["dw"].T
    if grads["dx"].shape != p.x.shape or dw.shape != p.W.shape or grads["db"].shape != p.b.shape:
        raise LayerFault(
            "backward",
            f"{subject.name} returned gradients of shapes "
            f"{grads['dx'].shape}, {grads['dw'].shape}, {grads['db'].shape}, "
            f"expected {p.x.shape}, {w.shape}, {p.b.shape}",
        )
    return {
        "x": p.x,
        "W": p.W,
        "b": p.b,
        "dz": p.dz,
        "z": z,
        "grad.x": grads["dx"],
        "grad.W": dw,
        "grad.b": grads["db"],
    }


def _judge(
    reference: Any, impl: str, leaf: Callable[[Any], float], evaluator: str
) -> Iterator[Finding]:
    from manualbp.checks.published import Explainer, quantity_finding

    explainer = Explainer(reference, leaf)  # a disagreement: truncated or rounded paths?
    for quantity in reference.quantities:
        yield quantity_finding(reference, quantity, leaf, impl, evaluator, explainer)


def _graph(
    subject: LayerSubject, reference: Any, nodes: Mapping[str, LayerSubject]
) -> Iterator[Finding]:
    """The Findings of one graph reference, if ``subject`` is the one that judges it."""
    kinds = [operation.op for operation in _binary_operations(reference)[0]]
    assert subject.kind is not None
    if subject.kind.name not in kinds:
        return
    available = {**nodes, subject.kind.name: subject}
    owner = available.get(kinds[0])
    if owner is not None and owner.name != subject.name:
        return  # judged by the node of the first operation
    missing = sorted({k for k in kinds if k not in available})
    uncovered = [k for k in missing if k not in GRAPH_KINDS]
    if missing:
        reason = (
            f"the graph uses {', '.join(uncovered)}, which no layer kind computes"
            if uncovered
            else f"the graph also needs a node for {', '.join(missing)}: give it as "
            f"--layer FILE:CLASS --as {missing[0]}"
        )
        yield case_finding(reference, subject.name, "skipped", reason)
        return
    used = dict.fromkeys(available[k].name for k in kinds)
    evaluator = "the user's nodes: " + ", ".join(used)
    try:
        values = graph_values(reference, available)
    except LayerFault as fault:
        yield case_finding(reference, subject.name, "fail", f"{evaluator} misbehaved: {fault}")
        return
    yield from _judge(
        reference, subject.name, lambda path: values[path.quantity][path.name], evaluator
    )


def _affine(subject: LayerSubject, reference: Any) -> Iterator[Finding]:
    if reference.problem.bias != "per_unit":
        yield case_finding(
            reference,
            subject.name,
            "skipped",
            f"bias {reference.problem.bias!r}: the affine kind has a bias vector",
        )
        return
    evaluator = f"the layer under check, {subject.name}"
    try:
        arrays = affine_values(reference, subject)
    except LayerFault as fault:
        yield case_finding(reference, subject.name, "fail", f"{evaluator} misbehaved: {fault}")
        return
    yield from _judge(
        reference,
        subject.name,
        lambda path: float(np.asarray(arrays[path.quantity])[path.index]),
        evaluator,
    )


def run(
    subject: LayerSubject,
    references: Iterable[Any] | None = None,
    nodes: Mapping[str, LayerSubject] | None = None,
) -> Iterator[Finding]:
    """The published Findings of an asserted layer (module docstring); ``references``
    default to the built-in worked examples, ``nodes`` are the other graph nodes by kind."""
    from manualbp.checks.published.file import default_references

    assert subject.kind is not None
    kind = subject.kind.name
    chosen = list(default_references() if references is None else references)
    findings: list[Finding] = []
    for reference in chosen:
        if kind == "affine" and reference.kind == "affine":
            findings += _affine(subject, reference)
        elif kind in GRAPH_KINDS and reference.kind == "graph":
            findings += _graph(subject, reference, nodes or {})
    concerned = kind == "affine" and any(r.kind == "affine" for r in chosen)
    concerned = concerned or (
        kind in GRAPH_KINDS
        and any(
            kind in [op.op for op in _binary_operations(r)[0]] for r in chosen if r.kind == "graph"
        )
    )
    if not concerned:
        findings.append(
            Finding(
                check=CHECK,
                case="layer",
                quantity="case",
                verdict="skipped",
                impl=subject.name,
                reason=f"no worked example of kind {kind} among the references",
            )
        )
    yield from findings
