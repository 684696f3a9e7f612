"""Saturated units: derivatives accurate to rounding where 1 - a cancels.

Found by the false-alarm campaign: with sigmoid'(z) computed as a(1 - a), a unit at z ≈ 30
has 1 - a ≈ 1e-13 with only a few correct digits, and every gradient flowing through it was
off by ~4 %; the complex-step check (exact to rounding) rightly disagreed with the engine.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from manualbp import engine
from manualbp.checks import fd
from manualbp.engine.activations import ACTIVATIONS
from manualbp.space import ArchSpace, random_case

Z = np.array([-745.0, -200.0, -36.5, -30.0, -17.0, -1e-3, 0.0, 2.5, 20.0, 30.0, 36.5, 200.0])


def exact(name: str, z: float, order: int = 1) -> float:
    """f'(z) (order 1) or f''(z) (order 2) of sigmoid or tanh at 50 significant digits:
    σ' = σ(1 - σ), σ'' = σ'(1 - 2σ); tanh' = sech², tanh'' = -2·tanh·sech²."""
    mpmath.mp.dps = 50
    x = mpmath.mpf(z)
    if name == "sigmoid":
        e = mpmath.exp(-abs(x))  # σ(1 - σ) = e/(1 + e)², with no 1 - σ to lose digits in
        first = e / (1 + e) ** 2
        second = first * (1 - 2 / (1 + mpmath.exp(-x)))
    else:
        first = mpmath.sech(x) ** 2
        second = -2 * mpmath.tanh(x) * first
    return float(first if order == 1 else second)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_derivative_is_accurate_in_saturation(name):
    activation = ACTIVATIONS[name]
    got = activation.derivative(Z, activation.forward(Z))
    want = np.array([exact(name, z) for z in Z])
    tiny = want < np.finfo(np.float64).tiny  # underflows to 0 or a subnormal: compare absolutely
    assert np.allclose(got[tiny], want[tiny], rtol=0, atol=1e-300)
    np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=4 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_derivative_is_analytic_for_the_complex_step(name):
    activation = ACTIVATIONS[name]
    z = np.array([-30.0, -1.0, 0.5, 30.0])
    h = 1e-30
    step = np.imag(activation.derivative(z + 1j * h, activation.forward(z + 1j * h))) / h
    second = np.array([exact(name, v, order=2) for v in z])
    np.testing.assert_allclose(step, second, rtol=1e-6, atol=1e-300)


@pytest.mark.parametrize("seed", [2849934575, 1735327577])
def test_campaign_cases_with_saturated_units_pass(seed):
    """The two campaign cases (seed, default space) that failed before the fix."""
    case = random_case(seed, ArchSpace(), case_id=f"seed-{seed}")
    verdicts = {f.verdict for f in fd.run(engine, [case])}
    assert "fail" not in verdicts


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_torch_mirror_derivative_is_accurate_in_saturation(name):
    """The autograd check's reference must not lose the digits the engine keeps (torch's
    own sigmoid/tanh backward, y(1 - y) and 1 - y², does: campaign case 3843475833)."""
    torch = pytest.importorskip("torch")
    from manualbp.torch_mirror import _SMOOTH

    z = torch.tensor(Z[Z > -700], dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(_SMOOTH[name](torch, z).sum(), z)
    want = np.array([exact(name, float(v)) for v in z.detach()])
    values = _SMOOTH[name](torch, z).detach().numpy()
    np.testing.assert_allclose(values, ACTIVATIONS[name].forward(Z[Z > -700]), rtol=4e-16)
    tiny = want < np.finfo(np.float64).tiny
    np.testing.assert_allclose(slope.numpy()[~tiny], want[~tiny], rtol=4 * np.finfo(float).eps)


@pytest.mark.parametrize("seed", [3843475833])
def test_campaign_case_passes_the_autograd_check(seed):
    from manualbp.checks import autograd

    case = random_case(seed, ArchSpace(), case_id=f"seed-{seed}")
    assert "fail" not in {f.verdict for f in autograd.run(engine, [case])}
