"""Loss layers as CS231n-style functions ``<kind>_loss(x, y) -> (loss, dx)``, dx = ∂loss/∂x.

x (N, K) holds one row of scores or outputs per sample. softmax_ce and svm take labels y,
integers (N,) or one-hot rows (N, K), and average over the batch; half_sse, sse and mse
take real targets y (N, K): the first two sum over every entry (Saito's
``sum_squared_error`` is half_sse), mse averages over all N·K entries.
"""

from __future__ import annotations

import numpy as np

#: Margin Δ of the multiclass hinge loss.
SVM_MARGIN = 1.0


def _labels(y: np.ndarray) -> np.ndarray:
    """Integer labels (N,) from integer labels or one-hot rows (N, K)."""
    y = np.asarray(y)
    return np.argmax(y, axis=1) if y.ndim == 2 else y.astype(np.intp)


def softmax_ce_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = -(1/N) Σ_n log p_n[y_n] with p_n = softmax(x_n) = e^{x_n - m_n}/Σ_k e^{x_nk - m_n}
    (m_n = max_k x_nk, so no exponential overflows); dx = (p - onehot(y))/N."""
    labels = _labels(y)
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_p[np.arange(n), labels]) / n
    dx = np.exp(log_p)
    dx[np.arange(n), labels] -= 1.0
    return float(loss), dx / n


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass hinge: loss = (1/N) Σ_n Σ_{j≠y_n} max(0, x_nj - x_n,y_n + Δ), Δ = 1;
    dx_nj = [margin_nj > 0]/N for j ≠ y_n and dx_n,y_n = -(number of positive margins)/N
    (the derivative taken as 0 at a margin exactly 0, the kink)."""
    labels = _labels(y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0.0, x - x[rows, labels][:, None] + SVM_MARGIN)
    margins[rows, labels] = 0.0
    positive = (margins > 0).astype(np.float64)
    positive[rows, labels] = -positive.sum(axis=1)
    return float(margins.sum() / n), positive / n


def half_sse_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = ½ Σ (x - y)² over every entry; dx = x - y."""
    difference = x - y
    return float(0.5 * np.sum(difference**2)), difference


def sse_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = Σ (x - y)² over every entry; dx = 2(x - y)."""
    difference = x - y
    return float(np.sum(difference**2)), 2.0 * difference


def mse_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = (1/(N·K)) Σ (x - y)², the mean over every entry; dx = 2(x - y)/(N·K)."""
    difference = x - y
    return float(np.mean(difference**2)), 2.0 * difference / difference.size
