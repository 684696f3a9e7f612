"""S1b: Saito's batch affine example with :class:`manualbp.engine.layers.Affine`.

Saito writes Y = X·W + B with W of shape (inputs, outputs); manualbp stores W with shape
(outputs, inputs) (the PyTorch ``nn.Linear`` layout) and computes z = X Wᵀ + b, so the
demo passes Saito's W transposed and transposes ∂E/∂W back to his layout. Backward, with
the upstream gradient dY = ∂E/∂Y (N, outputs):

    dX = dY·W_saitoᵀ = dY W_ours      dW_saito = Xᵀ·dY = (dYᵀ X)ᵀ      dB = Σ_n dY[n]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from manualbp.demos.base import Demo, DemoResult, array_lines
from manualbp.engine.layers import Affine

X = np.array([[0.0, 0.0], [1.0, 1.0]])
W_SAITO = np.array([[2.0, 2.0, 2.0], [8.0, 8.0, 8.0]])
B = np.array([1.0, 2.0, 3.0])
D_Y = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def run(output_dir: Path = Path("reports")) -> DemoResult:
    """Forward X·W and X·W + B, then backward dX, dW and dB for Saito's dY."""
    W = W_SAITO.T
    layer = Affine("per_unit")
    xw, _ = layer.forward(X, W, None)
    z, cache = layer.forward(X, W, B)
    d_x, d_w, d_b = layer.backward(D_Y, cache)
    figures = {"XW": xw, "XW_plus_B": z, "dX": d_x, "dW": d_w.T, "dW_ours": d_w, "dB": d_b}
    lines = [
        "Saito's batch affine example (manualbp.engine.layers.Affine)",
        "  Saito: Y = X·W + B with W of shape (in, out) = (2, 3); manualbp keeps W as (out, in),",
        "  so the layer gets W_ours = W_saitoᵀ (3, 2) and computes z = X W_oursᵀ + B",
        *array_lines("X", X, 0),
        *array_lines("W_saito", W_SAITO, 0),
        *array_lines("B", B, 0),
        *array_lines("X·W", xw, 0),
        *array_lines("X·W + B", z, 0),
        "Backward with upstream dY:",
        *array_lines("dY", D_Y, 0),
        *array_lines("dX = dY·W_saitoᵀ", d_x, 0),
        *array_lines("dW = Xᵀ·dY (Saito's layout)", d_w.T, 0),
        *array_lines("dW_ours = dYᵀ X", d_w, 0),
        *array_lines("dB = Σ_n dY[n]", d_b, 0),
    ]
    return DemoResult(lines, figures)


DEMO = Demo("affine", "S1b", "Saito's affine layer on a batch", run)
