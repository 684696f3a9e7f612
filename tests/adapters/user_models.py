"""User code in the layouts the adapters meet, beyond the corpus (test fixtures written here).

* ``TwoLayerNet`` — the CS231n assignment's two-layer net: ``TwoLayerNet(input_dim,
  hidden_dim, num_classes, weight_scale, reg)``, params W (in, out), ``loss(X, y) ->
  (loss, grads)`` with integer labels and L2 regularisation ``0.5·reg·Σ W²``; ``sgd(w, dw,
  config)`` its update rule. ``DecayedTwoLayerNet`` hard-codes reg = 0.1 (cannot turn it off).
* ``half_sse_loss`` — a CS231n-style loss function, ``(x, y) -> (loss, dx)``, ½Σ(x - y)²;
  ``SGD`` — Saito's optimizer, ``SGD(lr).update(params, grads)`` in place;
  ``OutputSigmoid`` — a Saito-style sigmoid layer whose backward forgets the factor ``out``.
"""

import numpy as np


class TwoLayerNet:
    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3,
                 reg=0.0):  # fmt: skip
        rng = np.random.default_rng(0)
        self.reg = reg
        self.params = {
            "W1": weight_scale * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden_in = X @ W1 + b1
        hidden = np.maximum(0, hidden_in)
        scores = hidden @ W2 + b2
        if y is None:
            return scores
        n = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean()
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W2": hidden.T @ dscores + self.reg * W2, "b2": dscores.sum(axis=0)}
        dhidden = (dscores @ W2.T) * (hidden_in > 0)
        grads["W1"] = X.T @ dhidden + self.reg * W1
        grads["b1"] = dhidden.sum(axis=0)
        return loss, grads


class DecayedTwoLayerNet(TwoLayerNet):
    def __init__(self, input_dim, hidden_dim, num_classes):
        super().__init__(input_dim, hidden_dim, num_classes, reg=0.1)


def sgd(w, dw, config=None):
    config = config or {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def half_sse_loss(x, y):
    diff = x - y
    return 0.5 * np.sum(diff * diff), diff


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class OutputSigmoid:
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out)  # the factor self.out forgotten
