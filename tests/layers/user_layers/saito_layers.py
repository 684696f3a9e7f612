"""Saito-style layer classes, as a reader of "Deep Learning from Scratch" ch. 5 writes them.

Test fixtures standing for a user's code (written here, in the book's conventions): nodes
``forward(x, y)`` / ``backward(dout) -> (dx, dy)``; layers built with their parameters,
gradients on ``dW``, ``db``, ``dgamma``, ``dbeta``; a ReLU that writes into dout; a
non-inverted Dropout drawing from the global NumPy generator; a BatchNormalization with its
eps hard-coded to 10e-7; a SoftmaxWithLoss accepting integer or one-hot labels.
"""

import numpy as np


class MulLayer:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddLayer:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * 1, dout * 1


class SwappedMulLayer(MulLayer):
    def backward(self, dout):
        return dout * self.x, dout * self.y


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # writes into the upstream gradient, as the book does
        return dout


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)


class SoftmaxWithLoss:
    def forward(self, x, t):
        shifted = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
        self.t = t
        n = x.shape[0]
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        return -np.sum(np.log(self.y[np.arange(n), labels])) / n

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:
            return dout * (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dout * dx / n


class SmoothedSoftmaxWithLoss(SoftmaxWithLoss):
    """The book's cross_entropy_error adds 1e-7 inside the log; backward ignores it."""

    def forward(self, x, t):
        super().forward(x, t)
        n = x.shape[0]
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        return -np.sum(np.log(self.y[np.arange(n), labels] + 1e-7)) / n


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9):
        self.gamma, self.beta = gamma, beta
        self.momentum = momentum

    def forward(self, x, train_flg=True):
        mu = x.mean(axis=0)
        self.xc = x - mu
        var = np.mean(self.xc**2, axis=0)
        self.std = np.sqrt(var + 10e-7)
        self.xn = self.xc / self.std
        self.batch_size = x.shape[0]
        return self.gamma * self.xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size
