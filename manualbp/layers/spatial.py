"""The two spatial layers, conv2d and maxpool2d, as CS231n-style forward/backward pairs.

Both slide a window of size (HH, WW) with stride s over x (N, C, H, W); the output has
H' = (H + 2·pad - HH)/s + 1 rows (W' likewise). Rather than loop over the N·H'·W' output
positions, they loop over the HH·WW offsets (p, q) of the window: the entries at offset
(p, q) of every window form the strided view x[:, :, p::s, q::s] (N, C, H', W'), so each
offset is one tensor contraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Cache = Any


def _view(x: np.ndarray, p: int, q: int, stride: int, out_h: int, out_w: int) -> np.ndarray:
    """x[:, :, p + s·i, q + s·j] for i < out_h, j < out_w: offset (p, q) of every window."""
    return x[
        :, :, p : p + stride * (out_h - 1) + 1 : stride, q : q + stride * (out_w - 1) + 1 : stride
    ]


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
) -> tuple[np.ndarray, Cache]:
    """Cross-correlation with zero padding, x (N, C, H, W), w (F, C, HH, WW), b (F,):
    out[n,f,i,j] = Σ_{c,p,q} w[f,c,p,q]·x_pad[n,c,s·i + p, s·j + q] + b[f] (N, F, H', W'),
    s = conv_param["stride"], x_pad = x with conv_param["pad"] zeros on each side."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    filters, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h = (padded.shape[2] - kh) // stride + 1
    out_w = (padded.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], filters, out_h, out_w))
    for p in range(kh):
        for q in range(kw):
            patch = _view(padded, p, q, stride, out_h, out_w)
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, p, q])
    return out + b[None, :, None, None], (x, w, stride, pad)


def conv2d_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dw[f,c,p,q] = Σ_{n,i,j} dout[n,f,i,j]·x_pad[n,c,s·i + p, s·j + q]; db[f] = Σ_{n,i,j}
    dout[n,f,i,j]; dx_pad[n,c,s·i + p, s·j + q] += Σ_f dout[n,f,i,j]·w[f,c,p,q] over every
    (i, j, p, q), and dx is dx_pad without its padding."""
    x, w, stride, pad = cache
    _, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dpadded = np.zeros_like(padded)
    dw = np.zeros_like(w)
    out_h, out_w = dout.shape[2], dout.shape[3]
    for p in range(kh):
        for q in range(kw):
            dw[:, :, p, q] = np.einsum(
                "nfhw,nchw->fc", dout, _view(padded, p, q, stride, out_h, out_w)
            )
            _view(dpadded, p, q, stride, out_h, out_w)[...] += np.einsum(
                "nfhw,fc->nchw", dout, w[:, :, p, q]
            )
    dx = dpadded[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def maxpool2d_forward(x: np.ndarray, pool_param: dict[str, int]) -> tuple[np.ndarray, Cache]:
    """out[n,c,i,j] = max_{p,q} x[n,c,s·i + p, s·j + q] over the (pool_height, pool_width)
    window, s = pool_param["stride"], no padding (N, C, H', W')."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out_h = (x.shape[2] - ph) // stride + 1
    out_w = (x.shape[3] - pw) // stride + 1
    views = np.stack([_view(x, p, q, stride, out_h, out_w) for p in range(ph) for q in range(pw)])
    return views.max(axis=0), (x.shape, np.argmax(views, axis=0), ph, pw, stride)


def maxpool2d_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """dx[n,c,s·i + p, s·j + q] += dout[n,c,i,j] at the (first) maximum (p, q) of each window
    and 0 elsewhere: the max passes the gradient to the entry it selected. At a tie the first
    maximum in row-major window order gets it (any split is a subgradient there)."""
    shape, winner, ph, pw, stride = cache
    dx = np.zeros(shape)
    out_h, out_w = dout.shape[2], dout.shape[3]
    for k in range(ph * pw):
        p, q = divmod(k, pw)
        _view(dx, p, q, stride, out_h, out_w)[...] += dout * (winner == k)
    return dx
