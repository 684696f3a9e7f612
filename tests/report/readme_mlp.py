"""The README's worked example ("Checking your own implementation"), with the bug the README
describes: the activation derivative dropped from the hidden error. A fixture of the browser
test (not a test module): ``manualbp verify --impl tests/report/readme_mlp.py --activations
sigmoid --losses half_sse --bias-modes per_unit``."""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _forward(arch, params, x):
    if set(arch.activations) != {"sigmoid"} or arch.loss != "half_sse" or arch.bias != "per_unit":
        raise NotImplementedError("sigmoid layers, half_sse, per-unit biases only")
    a = [x]
    for l in range(1, len(arch.sizes)):  # noqa: E741 (the README's code, as written)
        a.append(_sigmoid(a[-1] @ params[f"W{l}"].T + params[f"b{l}"]))
    return a


def loss(arch, params, x, y):
    a = _forward(arch, params, x)
    total = 0.5 * np.sum((a[-1] - y) ** 2)
    return float(total / len(x) if arch.reduction == "mean" else total)


def gradients(arch, params, x, y):
    a = _forward(arch, params, x)
    scale = 1.0 / len(x) if arch.reduction == "mean" else 1.0
    delta = (a[-1] - y) * a[-1] * (1 - a[-1]) * scale  # output error
    grads = {}
    for l in range(len(arch.sizes) - 1, 0, -1):  # noqa: E741
        grads[f"W{l}"] = delta.T @ a[l - 1]
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            delta = delta @ params[f"W{l}"]  # hidden error, activation derivative dropped
    return loss(arch, params, x, y), grads
