"""S0a: Mazur's 2-2-2 example formula by formula, with :mod:`manualbp.mazur`.

Prints every number of the post in its order: the forward pass, the chain-rule factors
of ∂E/∂w5 and ∂E/∂w1, all eight weight gradients, the weights after one step of
w⁺ = w - η ∂E/∂w (biases kept), E_total after that step, and E_total and the outputs
after 10,000 steps (trained with :func:`manualbp.engine.train.train`, which drives any
implementation of the protocol — here the formula-by-formula one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from manualbp import mazur
from manualbp.demos import mazur_data as data
from manualbp.demos.base import Demo, DemoResult, number
from manualbp.engine.train import train

#: Mazur's names for the entries of W1 and W2, in the order (layer, row, column).
WEIGHT_NAMES: dict[str, tuple[str, int, int]] = {
    "w1": ("W1", 0, 0),
    "w2": ("W1", 0, 1),
    "w3": ("W1", 1, 0),
    "w4": ("W1", 1, 1),
    "w5": ("W2", 0, 0),
    "w6": ("W2", 0, 1),
    "w7": ("W2", 1, 0),
    "w8": ("W2", 1, 1),
}


def run(output_dir: Path = Path("reports"), *, iterations: int = data.ITERATIONS) -> DemoResult:
    """Run the scalar demo; ``iterations`` is the length of the final training run."""
    params = data.initial_params()
    (i1, i2), (t1, t2) = data.X[0], data.Y[0]
    s = mazur.one_sample(params, i1, i2, t1, t2)
    f: dict[str, Any] = {
        "net_h1": s.net_h1,
        "out_h1": s.out_h1,
        "net_h2": s.net_h2,
        "out_h2": s.out_h2,
        "net_o1": s.net_o1,
        "out_o1": s.out_o1,
        "net_o2": s.net_o2,
        "out_o2": s.out_o2,
        "E_o1": 0.5 * (t1 - s.out_o1) ** 2,
        "E_o2": 0.5 * (t2 - s.out_o2) ** 2,
        "E_total": s.E_total,
        # output layer: the three factors of ∂E/∂w5
        "dE_dout_o1": -(t1 - s.out_o1),
        "dout_o1_dnet_o1": s.out_o1 * (1 - s.out_o1),
        "dE_dnet_o1": s.dE_dnet_o1,
        "dnet_o1_dw5": s.out_h1,
        # hidden layer: ∂E/∂out_h1 collects both outputs through the original w5 and w7
        "dE_o1_dout_h1": s.dE_dnet_o1 * params["W2"][0, 0],
        "dE_dnet_o2": s.dE_dnet_o2,
        "dE_o2_dout_h1": s.dE_dnet_o2 * params["W2"][1, 0],
        "dout_h1_dnet_h1": s.out_h1 * (1 - s.out_h1),
        "dnet_h1_dw1": i1,
    }
    f["dE_dout_h1"] = f["dE_o1_dout_h1"] + f["dE_o2_dout_h1"]
    for w, (matrix, row, col) in WEIGHT_NAMES.items():
        f[f"dE_d{w}"] = s.grads[matrix][row, col]

    arch, lr = data.ARCHITECTURE, data.LEARNING_RATE
    updated = mazur.step(arch, params, data.X, data.Y, lr, frozen=data.FROZEN)
    for w, (matrix, row, col) in WEIGHT_NAMES.items():
        f[f"{w}_updated"] = updated[matrix][row, col]
    f["E_total_after_first_update"] = mazur.loss(arch, updated, data.X, data.Y)

    trained = train(
        mazur, arch, params, data.X, data.Y, lr=lr, epochs=iterations, frozen=data.FROZEN
    )
    out_o = mazur.intermediates(arch, trained.params, data.X, data.Y)["a"][1][0]
    f["iterations"] = iterations
    f["E_total_after_training"] = trained.final_loss
    f["out_o1_after_training"] = float(out_o[0])
    f["out_o2_after_training"] = float(out_o[1])
    return DemoResult(_lines(f, lr), {k: float(v) for k, v in f.items()})


def _lines(f: dict[str, Any], lr: float) -> list[str]:
    def row(label: str, key: str) -> str:
        return f"  {label:<38} {number(f[key])}"

    lines = [
        "Mazur's 2-2-2 example, formula by formula (manualbp.mazur)",
        "  inputs i1, i2 = 0.05, 0.10; targets t1, t2 = 0.01, 0.99; b1 = 0.35, b2 = 0.60",
        "  w1..w8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55",
        "Forward pass",
        row("net_h1 = w1·i1 + w2·i2 + b1", "net_h1"),
        row("out_h1 = 1/(1 + e^-net_h1)", "out_h1"),
        row("net_h2 = w3·i1 + w4·i2 + b1", "net_h2"),
        row("out_h2", "out_h2"),
        row("net_o1 = w5·out_h1 + w6·out_h2 + b2", "net_o1"),
        row("out_o1", "out_o1"),
        row("net_o2 = w7·out_h1 + w8·out_h2 + b2", "net_o2"),
        row("out_o2", "out_o2"),
        row("E_o1 = ½(t1 - out_o1)²", "E_o1"),
        row("E_o2 = ½(t2 - out_o2)²", "E_o2"),
        row("E_total = E_o1 + E_o2", "E_total"),
        "Backward pass, output layer: ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5",
        row("∂E/∂out_o1 = -(t1 - out_o1)", "dE_dout_o1"),
        row("∂out_o1/∂net_o1 = out_o1(1 - out_o1)", "dout_o1_dnet_o1"),
        row("∂net_o1/∂w5 = out_h1", "dnet_o1_dw5"),
        row("∂E/∂net_o1 (first two factors)", "dE_dnet_o1"),
    ]
    lines += [row(f"∂E/∂{w}", f"dE_d{w}") for w in ("w5", "w6", "w7", "w8")]
    lines += [
        "Backward pass, hidden layer: ∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1",
        row("∂E_o1/∂out_h1 = ∂E/∂net_o1 · w5", "dE_o1_dout_h1"),
        row("∂E/∂net_o2", "dE_dnet_o2"),
        row("∂E_o2/∂out_h1 = ∂E/∂net_o2 · w7", "dE_o2_dout_h1"),
        row("∂E/∂out_h1 (sum of the two)", "dE_dout_h1"),
        row("∂out_h1/∂net_h1 = out_h1(1 - out_h1)", "dout_h1_dnet_h1"),
        row("∂net_h1/∂w1 = i1", "dnet_h1_dw1"),
    ]
    lines += [row(f"∂E/∂{w}", f"dE_d{w}") for w in ("w1", "w2", "w3", "w4")]
    lines.append(
        f"Update w⁺ = w - η·∂E/∂w with η = {lr}, all eight gradients taken first; "
        "b1, b2 not updated"
    )
    lines += [row(f"{w}⁺", f"{w}_updated") for w in WEIGHT_NAMES]
    lines.append(row("E_total after the first update", "E_total_after_first_update"))
    lines += [
        f"Training: {int(f['iterations']):,} updates on the same sample",
        f"  {'E_total':<38} {f['E_total_after_training']:.10f}",
        row("out_o1 (target 0.01)", "out_o1_after_training"),
        row("out_o2 (target 0.99)", "out_o2_after_training"),
    ]
    return lines


DEMO = Demo("mazur-scalar", "S0a", "Mazur's 2-2-2 example, formula by formula", run)
