"""Corpus subject: a scalar autograd engine in the style of Karpathy's micrograd.

User code: a ``Value`` holds one float, its gradient, the set of Values it was computed
from (``_prev``, a Python ``set``) and a ``_backward`` closure that adds its share of the
gradient to its children. ``backward()`` sorts the graph topologically by a depth-first walk
over those sets and runs the closures in reverse. Set iteration follows the objects' hashes
(their ids), so the order in which the contributions to one gradient are *added* changes from
one call to the next: results agree to rounding, not bit for bit. The numerics are the
naive ones: tanh from math.exp, sigmoid as 1/(1 + exp(-z)), logs of the sigmoid for the
cross entropy. ``Neuron``, ``Layer`` and ``MLP`` are built from Values; the wrapper keeps one
MLP per architecture and loads the parameters into it, as a training script would.

``supports`` limits the size (at most 40 parameters, 3 layers), since every scalar of
every sample is a Python object.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from manualbp.architecture import Architecture


class Value:
    """A scalar in a computation graph, with the gradient of the final output w.r.t. it."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    # results are made with type(self), not Value, so that a subclass's graph stays in it
    def _lift(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self._lift(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only constant powers"
        out = type(self)(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += (other * self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        out = type(self)(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += (1 / self.data) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        e2x = math.exp(2 * self.data)
        t = (e2x - 1) / (e2x + 1)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = type(self)(0.0 if self.data < 0 else self.data, (self,), "ReLU")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, act="tanh", value=Value, rng=None):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.w = [value(float(rng.uniform(-1, 1))) for _ in range(nin)]
        self.b = value(0.0)
        self.act = act

    def __call__(self, x):
        z = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        if self.act == "tanh":
            return z.tanh()
        if self.act == "relu":
            return z.relu()
        if self.act == "sigmoid":
            return 1 / (1 + (-z).exp())
        return z  # linear

    def parameters(self):
        return [*self.w, self.b]


class Layer(Module):
    def __init__(self, nin, nout, act, value=Value, rng=None):
        self.neurons = [Neuron(nin, act, value, rng) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, nin, nouts, acts, value=Value, seed=0):
        rng = np.random.default_rng(seed)
        sz = [nin, *nouts]
        self.layers = [Layer(sz[i], sz[i + 1], acts[i], value, rng) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


# ---------------------------------------------------------------------------------------
# protocol wrapper
# ---------------------------------------------------------------------------------------


def sample_loss(kind, out, target):
    """The loss of one sample from the output Values and the target floats."""
    pairs = list(zip(out, (float(t) for t in target), strict=True))
    if kind == "half_sse":
        return sum(0.5 * (o - t) ** 2 for o, t in pairs)
    if kind == "sse":
        return sum((o - t) ** 2 for o, t in pairs)
    if kind == "mse":
        return sum((o - t) ** 2 for o, t in pairs) / len(pairs)
    return sum(-(t * o.log() + (1 - t) * (1 - o).log()) for o, t in pairs)  # bce


class MicrogradImplementation:
    supports_complex = False
    max_params = 40
    max_layers = 3

    def __init__(self, value_class=Value, name="corpus/micrograd"):
        self.value_class = value_class
        self.name = name
        self._models = {}

    def supports(self, arch: Architecture) -> bool:
        return (
            set(arch.activations) <= {"tanh", "relu", "identity", "sigmoid"}
            and arch.loss in ("half_sse", "sse", "mse", "bce")
            and arch.bias == "per_unit"
            and arch.n_params <= self.max_params
            and arch.depth <= self.max_layers
        )

    def _model(self, arch, params):
        if arch not in self._models:
            self._models[arch] = MLP(
                arch.sizes[0], list(arch.sizes[1:]), list(arch.activations), self.value_class
            )
        model = self._models[arch]
        for i, layer in enumerate(model.layers, start=1):
            W, b = np.asarray(params[f"W{i}"]), np.asarray(params[f"b{i}"])
            for j, neuron in enumerate(layer.neurons):
                for k, w in enumerate(neuron.w):
                    w.data = float(W[j, k])
                neuron.b.data = float(b[j])
        return model

    def _total(self, arch, model, x, y):
        losses = []
        for xn, yn in zip(x, y, strict=True):
            out = model([float(v) for v in xn])
            losses.append(sample_loss(arch.loss, out, yn))
        total = sum(losses)
        if arch.reduction == "mean":
            total = total * (1.0 / len(losses))
        return total

    def _backward_pass(self, model, total):
        model.zero_grad()
        total.backward()

    @staticmethod
    def _named(arch, model):
        """(name, index, Value) for every parameter, in manualbp's layout."""
        for i, layer in enumerate(model.layers, start=1):
            for j, neuron in enumerate(layer.neurons):
                for k, w in enumerate(neuron.w):
                    yield f"W{i}", (j, k), w
                yield f"b{i}", (j,), neuron.b

    def loss(self, arch: Architecture, params: dict[str, Any], x: Any, y: Any) -> float:
        model = self._model(arch, params)
        return float(self._total(arch, model, x, y).data)

    def gradients(
        self, arch: Architecture, params: dict[str, Any], x: Any, y: Any
    ) -> tuple[float, dict[str, np.ndarray]]:
        model = self._model(arch, params)
        total = self._total(arch, model, x, y)
        self._backward_pass(model, total)
        grads = {name: np.zeros(shape) for name, shape in arch.param_shapes().items()}
        for name, index, p in self._named(arch, model):
            grads[name][index] = p.grad
        return float(total.data), grads

    def step(
        self,
        arch: Architecture,
        params: dict[str, Any],
        x: Any,
        y: Any,
        lr: float,
        frozen: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        model = self._model(arch, params)
        total = self._total(arch, model, x, y)
        self._backward_pass(model, total)
        new = {name: np.zeros(shape) for name, shape in arch.param_shapes().items()}
        for name, index, p in self._named(arch, model):
            if name not in frozen:
                p.data -= lr * p.grad
            new[name][index] = p.data
        return new


IMPL = MicrogradImplementation()


# ---------------------------------------------------------------------------------------
# bugs, one line each
# ---------------------------------------------------------------------------------------


class _MulOverwrites(Value):
    def __mul__(self, other):
        other = self._lift(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad  # BUG: = for +=
            other.grad = self.data * out.grad  # BUG: = for +=

        out._backward = _backward
        return out


class _TanhWithoutSquare(Value):
    def tanh(self):
        e2x = math.exp(2 * self.data)
        t = (e2x - 1) / (e2x + 1)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t) * out.grad  # BUG: 1 - t for 1 - t**2

        out._backward = _backward
        return out


class _PowWithoutExponent(Value):
    def __pow__(self, other):
        out = type(self)(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += (self.data ** (other - 1)) * out.grad  # BUG: the factor other is lost

        out._backward = _backward
        return out


class _NoZeroGrad(MicrogradImplementation):
    def _backward_pass(self, model, total):
        total.backward()  # BUG: model.zero_grad() forgotten, gradients pile up across calls


class _StepClimbs(MicrogradImplementation):
    def step(self, arch, params, x, y, lr, frozen=frozenset()):
        model = self._model(arch, params)
        total = self._total(arch, model, x, y)
        self._backward_pass(model, total)
        new = {name: np.zeros(shape) for name, shape in arch.param_shapes().items()}
        for name, index, p in self._named(arch, model):
            if name not in frozen:
                p.data += lr * p.grad  # BUG: += for -=
            new[name][index] = p.data
        return new


BUG_MUL_GRAD_OVERWRITTEN = MicrogradImplementation(
    _MulOverwrites, "corpus/micrograd:BUG_MUL_GRAD_OVERWRITTEN"
)
BUG_TANH_BACKWARD_WITHOUT_SQUARE = MicrogradImplementation(
    _TanhWithoutSquare, "corpus/micrograd:BUG_TANH_BACKWARD_WITHOUT_SQUARE"
)
BUG_POW_BACKWARD_MISSING_EXPONENT = MicrogradImplementation(
    _PowWithoutExponent, "corpus/micrograd:BUG_POW_BACKWARD_MISSING_EXPONENT"
)
BUG_NO_ZERO_GRAD = _NoZeroGrad(name="corpus/micrograd:BUG_NO_ZERO_GRAD")
BUG_STEP_SIGN_FLIPPED = _StepClimbs(name="corpus/micrograd:BUG_STEP_SIGN_FLIPPED")
