"""Layers as objects, Saito style: built with their parameters, ``forward`` keeps a cache,
``backward(dout)`` returns dx and stores the parameter gradients on the object.

Each class runs the pair of :mod:`manualbp.layers.functional` of its kind: ``forward``
calls ``<kind>_forward`` and keeps its cache, ``backward`` calls ``<kind>_backward`` on it.
Two-input nodes (:class:`AddLayer`, :class:`MulLayer`, :class:`MaxLayer`) take
``forward(x, y)`` and return ``(dx, dy)``; losses take ``forward(x, t)`` and
``backward(dout=1)``. Parameter gradients: ``dW``, ``db`` (Affine, Convolution), ``dgamma``,
``dbeta`` (BatchNormalization). The layer check verifies every class here
(``manualbp verify --layer manualbp.layers.objects:Affine``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from manualbp.layers import functional as F

Pair = tuple[Callable[..., Any], Callable[..., Any]]


class _Elementwise:
    """A layer of one input and no parameters: forward(x) -> out, backward(dout) -> dx."""

    pair: Pair

    def __init__(self) -> None:
        self.cache: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """out = f(x) (N, D); keeps the cache of the functional forward."""
        out, self.cache = self.pair[0](x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx = dout·f'(x) (N, D)."""
        return self.pair[1](dout, self.cache)


class Relu(_Elementwise):
    """max(0, x); dx = dout where x > 0."""

    pair = (F.relu_forward, F.relu_backward)


class LeakyRelu(_Elementwise):
    """x or 0.01·x; dx = dout·(1 or 0.01)."""

    pair = (F.leaky_relu_forward, F.leaky_relu_backward)


class Sigmoid(_Elementwise):
    """σ(x); dx = dout·σ(x)(1 - σ(x))."""

    pair = (F.sigmoid_forward, F.sigmoid_backward)


class Tanh(_Elementwise):
    """tanh(x); dx = dout·(1 - tanh²x)."""

    pair = (F.tanh_forward, F.tanh_backward)


class Softplus(_Elementwise):
    """log(1 + e^x); dx = dout·σ(x)."""

    pair = (F.softplus_forward, F.softplus_backward)


class _Node:
    """A two-input node: forward(x, y) -> out, backward(dout) -> (dx, dy)."""

    pair: Pair

    def __init__(self) -> None:
        self.cache: Any = None

    def forward(self, x: Any, y: Any) -> Any:
        """out = x ∘ y (scalars or arrays of one shape)."""
        out, self.cache = self.pair[0](x, y)
        return out

    def backward(self, dout: Any) -> tuple[Any, Any]:
        """(dx, dy), the upstream gradient through each input."""
        return self.pair[1](dout, self.cache)


class AddLayer(_Node):
    """x + y; (dx, dy) = (dout, dout)."""

    pair = (F.add_forward, F.add_backward)


class MulLayer(_Node):
    """x·y; (dx, dy) = (dout·y, dout·x)."""

    pair = (F.multiply_forward, F.multiply_backward)


class MaxLayer(_Node):
    """max(x, y); dout goes to the larger input (to x on a tie)."""

    pair = (F.max_forward, F.max_backward)


class Affine:
    """out = x·W + b, W (D, M), b (M,); backward stores dW (D, M) and db (M,)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.cache: Any = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """out = x·W + b (N, M)."""
        out, self.cache = F.affine_forward(x, self.W, self.b)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx = dout·Wᵀ (N, D); dW = xᵀ·dout, db = Σ_n dout."""
        dx, self.dW, self.db = F.affine_backward(dout, self.cache)
        return dx


class Convolution:
    """Cross-correlation, W (F, C, HH, WW), b (F,); backward stores dW and db."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.W, self.b = W, b
        self.conv_param = {"stride": stride, "pad": pad}
        self.cache: Any = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """out (N, F, H', W') of x (N, C, H, W)."""
        out, self.cache = F.conv2d_forward(x, self.W, self.b, self.conv_param)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx (N, C, H, W); dW (F, C, HH, WW) and db (F,) stored."""
        dx, self.dW, self.db = F.conv2d_backward(dout, self.cache)
        return dx


class Pooling:
    """Max pooling over (pool_h, pool_w) windows with ``stride``; padding is not supported."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        if pad != 0:
            raise ValueError(f"pad: got {pad}, expected 0 (max pooling without padding)")
        self.pool_param = {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}
        self.cache: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The maximum of every window (N, C, H', W')."""
        out, self.cache = F.maxpool2d_forward(x, self.pool_param)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx: each window's dout at its maximum, 0 elsewhere."""
        return F.maxpool2d_backward(dout, self.cache)


class BatchNormalization:
    """Training-mode batch normalisation with eps = 1e-5; backward stores dgamma and dbeta.

    ``forward(x, train_flg=False)`` uses the running mean and variance instead.
    """

    def __init__(
        self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9, eps: float = 1e-5
    ) -> None:
        self.gamma, self.beta = gamma, beta
        self.eps = eps
        self.bn_param: dict[str, Any] = {"mode": "train", "eps": eps, "momentum": momentum}
        self.cache: Any = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """gamma·x̂ + beta (N, D), x̂ normalised by the batch's statistics (or the running
        ones when ``train_flg`` is False)."""
        if not train_flg:
            mean = self.bn_param.get("running_mean", 0.0)
            variance = self.bn_param.get("running_var", 1.0)
            return self.gamma * (x - mean) / np.sqrt(variance + self.eps) + self.beta
        out, self.cache = F.batchnorm_forward(x, self.gamma, self.beta, self.bn_param)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx (N, D); dgamma, dbeta (D,) stored."""
        dx, self.dgamma, self.dbeta = F.batchnorm_backward(dout, self.cache)
        return dx


class Dropout:
    """Inverted dropout: drops each entry with probability ``dropout_ratio`` and scales the
    kept ones by 1/(1 - dropout_ratio). Masks come from ``numpy.random.default_rng(seed)``,
    created with the layer: a layer built with the same seed draws the same masks."""

    def __init__(self, dropout_ratio: float = 0.5, seed: int = 0) -> None:
        self.keep = 1.0 - dropout_ratio
        self.rng = np.random.default_rng(seed)
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """x·mask/keep in training (a new mask each call), x otherwise."""
        if not train_flg:
            return x
        self.mask = (self.rng.random(x.shape) < self.keep) / self.keep
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dx = dout·mask/keep."""
        return dout * self.mask


class _Loss:
    """forward(x, t) -> loss (a float), backward(dout=1) -> dx = dout·∂loss/∂x."""

    function: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]

    def __init__(self) -> None:
        self.loss: float | None = None
        self.dx: np.ndarray | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss of scores or outputs x (N, K) against targets t."""
        self.loss, self.dx = type(self).function(x, t)
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        """dx (N, K)."""
        return dout * self.dx


class SoftmaxWithLoss(_Loss):
    """Softmax cross-entropy averaged over the batch; t integer labels or one-hot rows."""

    function = staticmethod(F.softmax_ce_loss)


class SVMLoss(_Loss):
    """Multiclass hinge loss averaged over the batch; t integer labels or one-hot rows."""

    function = staticmethod(F.svm_loss)


class HalfSSELoss(_Loss):
    """½ Σ (x - t)²."""

    function = staticmethod(F.half_sse_loss)


class SSELoss(_Loss):
    """Σ (x - t)²."""

    function = staticmethod(F.sse_loss)


class MSELoss(_Loss):
    """The mean of (x - t)² over every entry."""

    function = staticmethod(F.mse_loss)
