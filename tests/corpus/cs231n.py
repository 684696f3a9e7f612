"""Corpus subject: functional layers in the style of the Stanford CS231n assignments
(``layers.py`` and ``fc_net.py``).

User code: every layer is a pair of functions, ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``; weights are (in, out); ``softmax_loss`` takes the
scores and *integer* labels (the adapter turns manualbp's one-hot rows into labels) and
returns the mean loss over the N rows and its gradient. The softmax is shifted by the row
maximum, then the log is taken of the probabilities (not of a log-softmax) --
the way many solutions write it. ``FullyConnectedNet.loss(X, y)`` returns (loss, grads).

The protocol comes from ``manualbp.adapters.from_model``, declaring ``architectures``: a fixed
list of ReLU networks with softmax scores, per-unit biases and the mean over the batch, as
the assignment builds them.
"""

from __future__ import annotations

import numpy as np

from manualbp.adapters import from_model
from manualbp.architecture import Architecture


def affine_forward(x, w, b):
    """out = x w + b for x (N, D), w (D, M), b (M,)."""
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, _b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    """Mean softmax cross-entropy of scores x (N, C) with labels y (N,), and d loss / d x."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


class FullyConnectedNet:
    """{affine - relu} x (L - 1) - affine - softmax; weights (in, out), L2 term ``reg``."""

    # the layer functions the net is built from (the module's own, unless a subclass says so)
    affine_forward = staticmethod(affine_forward)
    affine_backward = staticmethod(affine_backward)
    relu_forward = staticmethod(relu_forward)
    relu_backward = staticmethod(relu_backward)
    softmax_loss = staticmethod(softmax_loss)

    def __init__(self, hidden_dims, input_dim, num_classes, reg=0.0, weight_scale=1e-2, seed=0):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.params = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * rng.standard_normal((dims[i], dims[i + 1]))
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])

    def loss(self, X, y=None):
        """Scores for X when y is None, else (loss, grads)."""
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, fc_cache = self.affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            out, relu_cache = self.relu_forward(out)
            caches.append((fc_cache, relu_cache))
        L = self.num_layers
        scores, last_cache = self.affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = self.softmax_loss(scores, y)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params[f"W{i}"] ** 2)

        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = self.affine_backward(dscores, last_cache)
        grads[f"W{L}"] += self.reg * self.params[f"W{L}"]
        for i in range(L - 1, 0, -1):
            fc_cache, relu_cache = caches[i - 1]
            da = self.relu_backward(dout, relu_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = self.affine_backward(da, fc_cache)
            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
        return loss, grads


# ---------------------------------------------------------------------------------------
# the protocol: manualbp.adapters.from_model, on a fixed list of architectures
# ---------------------------------------------------------------------------------------


def _relu_net(*sizes: int) -> Architecture:
    return Architecture(
        sizes=sizes,
        activations=(*(["relu"] * (len(sizes) - 2)), "identity"),
        loss="softmax_ce",
        bias="per_unit",
        reduction="mean",
    )


#: The networks this wrapper is run on: a few TwoLayerNet and FullyConnectedNet shapes.
ARCHITECTURES = (
    _relu_net(4, 10, 3),
    _relu_net(2, 16, 2),
    _relu_net(1, 5, 2),
    _relu_net(5, 8, 8, 4),
    _relu_net(3, 3, 3, 3),
    _relu_net(6, 12, 10, 5),
    _relu_net(8, 6, 4, 6, 3),
    _relu_net(10, 20, 30, 10),
)


IMPL = from_model(FullyConnectedNet, architectures=ARCHITECTURES, name="corpus/cs231n")


def _adapted(net_class: type, bug: str):
    """The protocol around a FullyConnectedNet with one bug, named after the bug."""
    return from_model(net_class, architectures=ARCHITECTURES, name=f"corpus/cs231n:{bug}")


# ---------------------------------------------------------------------------------------
# bugs, one line of one layer function each
# ---------------------------------------------------------------------------------------


def _softmax_loss_dx_not_averaged(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx  # BUG: "dx /= N" forgotten


def _softmax_loss_not_averaged(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y]))  # BUG: "/ N" forgotten on the loss
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def _softmax_loss_label_plus_one(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] += 1  # BUG: += for -=
    dx /= N
    return loss, dx


def _relu_backward_mask_inverted(dout, cache):
    x = cache
    dx = dout * (x <= 0)  # BUG: the mask of the wrong side
    return dx


def _affine_backward_db_without_axis(dout, cache):
    x, w, _b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout)  # BUG: no axis=0, one number for the whole layer
    return dx, dw, db


class _DxNotAveraged(FullyConnectedNet):
    softmax_loss = staticmethod(_softmax_loss_dx_not_averaged)


class _LossNotAveraged(FullyConnectedNet):
    softmax_loss = staticmethod(_softmax_loss_not_averaged)


class _LabelPlusOne(FullyConnectedNet):
    softmax_loss = staticmethod(_softmax_loss_label_plus_one)


class _ReluMaskInverted(FullyConnectedNet):
    relu_backward = staticmethod(_relu_backward_mask_inverted)


class _DbWithoutAxis(FullyConnectedNet):
    affine_backward = staticmethod(_affine_backward_db_without_axis)


BUG_SOFTMAX_DX_NOT_DIVIDED_BY_N = _adapted(_DxNotAveraged, "BUG_SOFTMAX_DX_NOT_DIVIDED_BY_N")
BUG_SOFTMAX_LOSS_NOT_DIVIDED_BY_N = _adapted(_LossNotAveraged, "BUG_SOFTMAX_LOSS_NOT_DIVIDED_BY_N")
BUG_SOFTMAX_DX_LABEL_PLUS_ONE = _adapted(_LabelPlusOne, "BUG_SOFTMAX_DX_LABEL_PLUS_ONE")
BUG_RELU_BACKWARD_MASK_INVERTED = _adapted(_ReluMaskInverted, "BUG_RELU_BACKWARD_MASK_INVERTED")
BUG_AFFINE_DB_WITHOUT_AXIS = _adapted(_DbWithoutAxis, "BUG_AFFINE_DB_WITHOUT_AXIS")
