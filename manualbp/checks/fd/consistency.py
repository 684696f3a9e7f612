"""What gradcheck tools check besides the numbers: gradients() behaves like a function.

- it returns (a finite loss, one finite array per parameter, of the parameter's shape and
  dtype) — :func:`manualbp.protocol.checked_gradients` plus the dtype;
- it leaves its inputs alone (params, x and y compared with copies taken before the call);
- a second call returns the same values to rounding (a sum taken in another order, as an
  engine that iterates a set does, moves the last bits; more than rounding is state);
- the loss it returns is the loss ``loss()`` returns, within the loss's rounding noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from manualbp.case import Case
from manualbp.checks.fd.case import CaseContext, relative_error
from manualbp.findings import Finding, tensor_finding
from manualbp.protocol import call, checked_gradients


@dataclass(frozen=True)
class GradientCall:
    """One gradients() call: its loss, its gradients and the inputs it changed."""

    loss: float
    grads: dict[str, np.ndarray]
    mutated: tuple[str, ...]


def call_gradients(impl: object, case: Case) -> GradientCall:
    """Call ``impl.gradients`` on copies of the case's params, x and y and validate the result.

    Raises ImplementationFault (via :func:`manualbp.protocol.checked_gradients`) when it
    raised or returned something outside the protocol; Unsupported on NotImplementedError.
    """
    params = {name: np.array(value, copy=True) for name, value in case.params.items()}
    x, y = np.array(case.x, copy=True), np.array(case.y, copy=True)
    result = call(impl, "gradients", case.arch, params, x, y)
    loss, grads = checked_gradients(case.arch, result)
    mutated = [
        name
        for name, value in case.params.items()
        if name not in params or not np.array_equal(params[name], value)
    ]
    mutated += [extra for extra in params if extra not in case.params]
    mutated += [
        name for name, a, b in (("x", x, case.x), ("y", y, case.y)) if not np.array_equal(a, b)
    ]
    return GradientCall(loss, {k: np.array(v, copy=True) for k, v in grads.items()}, tuple(mutated))


def consistency_findings(ctx: CaseContext, first: GradientCall, impl: object) -> Iterator[Finding]:
    """The four protocol Findings of one case (method ``consistency``)."""
    method = "consistency"
    wrong_dtype = [
        f"{name} has dtype {first.grads[name].dtype}, expected {value.dtype}"
        for name, value in ctx.case.params.items()
        if first.grads[name].dtype != value.dtype
    ]
    yield ctx.finding(
        quantity="gradients()",
        verdict="fail" if wrong_dtype else "pass",
        reason="; ".join(f"gradient {w}" for w in wrong_dtype),
        tolerance_reason="one finite array of the parameter's shape and dtype per parameter",
        method=method,
    )
    yield ctx.finding(
        quantity="inputs",
        verdict="fail" if first.mutated else "pass",
        reason=f"gradients() changed {', '.join(first.mutated)}" if first.mutated else "",
        tolerance_reason="params, x and y equal copies taken before the call",
        method=method,
    )
    second = call_gradients(impl, ctx.case)
    model = ctx.model
    rtol = model.safety * model.rounding
    atol = model.safety * model.gradient_error + ctx.options.nondet_tol
    repeats = [
        tensor_finding(
            check="fd",
            case=ctx.case.case_id,
            quantity=f"repeat.grad.{name}",
            impl=second.grads[name],
            ref=first.grads[name],
            rtol=rtol,
            atol=atol,
            tolerance_reason=(
                "a second gradients() call returns the same values to rounding: the order of "
                "a sum may change between calls (a set iterated, threads), so |Δ| <= "
                f"κ(γ|g| + E_g) = {rtol:.2g}|g| + {atol:.2g}, as for the gradient itself"
            ),
            method=method,
            seed=ctx.case.seed,
            impl_name=ctx.impl_name,
        )
        for name in ctx.case.arch.param_names
    ]
    failed = [f for f in repeats if f.verdict == "fail"]
    yield from failed or [max(repeats, key=lambda f: f.abs_error or 0.0)]
    allowance = ctx.model.safety * 2.0 * ctx.model.noise
    error = abs(first.loss - ctx.f0)
    yield ctx.finding(
        quantity="loss",
        verdict="pass" if error <= allowance else "fail",
        impl_value=first.loss,
        ref_value=ctx.f0,
        abs_error=error,
        rel_error=relative_error(error, ctx.f0),
        tolerance=0.0,
        atol=allowance,
        tolerance_reason="the loss gradients() returns equals loss() within κ·2·ε_f (rounding)",
        reason="" if error <= allowance else "gradients() returns a different loss than loss()",
        method=method,
    )
