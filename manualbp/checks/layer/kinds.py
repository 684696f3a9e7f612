"""The layer kinds the layer check knows, each with its calling conventions in both styles.

A *kind* fixes what a layer computes and how it is called, so that the check can build its
inputs, call it and name what it returns. Two styles are understood:

functional (CS231n)  ``<name>_forward(*arrays, [setting]) -> (out, cache)`` and
                     ``<name>_backward(dout, cache) -> dx`` or a tuple ``(dx, dw, db)`` in the
                     order of the arrays; a loss is one function ``<name>_loss(x, y) -> (loss,
                     dx)``. ``setting`` is CS231n's dict (``bn_param``, ``dropout_param``,
                     ``conv_param``, ``pool_param``), a fresh one on every call.
object (Saito)       a class built with its parameters (``Affine(W, b)``), ``forward(x)``
                     (``forward(x, y)`` for a two-input node, ``forward(x, t)`` for a loss, with
                     ``train_flg=True`` when it takes one), ``backward(dout)`` returning dx
                     (``(dx, dy)`` for a node; ``backward(1)`` for a loss), and the parameter
                     gradients read from attributes (``dW``, ``db``, ``dgamma``, ``dbeta``).

Arrays are float64. Shapes: x (N, D) for the dense kinds, (N, C, H, W) for conv2d and
maxpool2d; affine's w is (D, M) — the (in, out) layout both styles use, out = x·w + b;
conv2d's w is (F, C, HH, WW) and the layer is a cross-correlation with zero padding.
The losses take x (N, K); softmax_ce and svm take integer labels y (N,) (one-hot (N, K) with
``LayerSpace(labels="one_hot")``) and divide by N; half_sse, sse and mse take real targets
(N, K): ½Σ(x - y)², Σ(x - y)² (sums over every entry, as Saito's ``sum_squared_error``) and
the mean of (x - y)² over all N·K entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from manualbp.errors import UsageError

#: Slope of leaky_relu for x < 0 (the convention of ``--as leaky_relu``).
LEAKY_SLOPE = 0.01
#: Margin Δ of the multiclass hinge loss: Σ_{j≠y} max(0, x_j - x_y + Δ).
SVM_MARGIN = 1.0


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Kind:
    """What one kind computes and how each style calls it.

    ``inputs`` are the differentiable inputs (``("x",)``, or ``("x", "y")`` for a two-input
    node), ``params`` the learned parameters in calling order; the gradients are named ``d``
    + the array (``dx``, ``dw``, ``dgamma``). ``loss``: the layer maps (x, targets) to a
    scalar. ``setting``: the name of the CS231n dict passed after the arrays. ``attributes``:
    where an object keeps each parameter gradient. ``kink``: where the layer is not
    differentiable (None: nowhere). ``formula``, ``functional`` and ``objects`` say, in
    words, what it computes and how each style is called (the table in docs/layers.md).
    """

    name: str
    inputs: tuple[str, ...]
    formula: str
    functional: str
    objects: str
    params: tuple[str, ...] = ()
    loss: bool = False
    setting: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    kink: str | None = None

    @property
    def arrays(self) -> tuple[str, ...]:
        """Every differentiable array, in calling order: inputs, then parameters."""
        return self.inputs + self.params

    @property
    def gradients(self) -> tuple[str, ...]:
        """The gradient names in the order a backward returns them (``dx``, ``dw``, ``db``)."""
        return tuple(f"d{name}" for name in self.arrays)


_DENSE = "x (N, D)"
_ELEMENTWISE_CALLS = "{0}_forward(x) -> (out, cache); {0}_backward(dout, cache) -> dx"
_NODE_CALLS = "{0}_forward(x, y) -> (out, cache); {0}_backward(dout, cache) -> (dx, dy)"
_LOSS_CALLS = "{0}_loss(x, y) -> (loss, dx)"
_LOSS_OBJECT = "{0}(); forward(x, t) -> loss; backward(1) -> dx"


def _elementwise(name: str, formula: str, cls: str, kink: str | None = None) -> Kind:
    return Kind(
        name,
        ("x",),
        f"out = {formula}, {_DENSE}",
        _ELEMENTWISE_CALLS.format(name),
        f"{cls}(); forward(x) -> out; backward(dout) -> dx",
        kink=kink,
    )


def _node(name: str, formula: str, cls: str, kink: str | None = None) -> Kind:
    return Kind(
        name,
        ("x", "y"),
        f"out = {formula}, x and y of the same shape (N, D) or scalars",
        _NODE_CALLS.format(name),
        f"{cls}(); forward(x, y) -> out; backward(dout) -> (dx, dy)",
        kink=kink,
    )


def _loss(name: str, formula: str, cls: str, kink: str | None = None) -> Kind:
    return Kind(
        name,
        ("x",),
        formula,
        _LOSS_CALLS.format(name),
        _LOSS_OBJECT.format(cls),
        loss=True,
        kink=kink,
    )


_KIND_LIST: tuple[Kind, ...] = (
    Kind(
        "affine",
        ("x",),
        "out = x·w + b, x (N, D), w (D, M) (in, out), b (M,)",
        "affine_forward(x, w, b) -> (out, cache); affine_backward(dout, cache) -> (dx, dw, db)",
        "Affine(W, b); forward(x) -> out; backward(dout) -> dx; dW, db",
        params=("w", "b"),
        attributes=_frozen({"dw": "dW", "db": "db"}),
    ),
    _elementwise("relu", "max(0, x)", "Relu", "x = 0"),
    _elementwise("leaky_relu", f"x if x > 0 else {LEAKY_SLOPE}·x", "LeakyRelu", "x = 0"),
    _elementwise("sigmoid", "1 / (1 + exp(-x))", "Sigmoid"),
    _elementwise("tanh", "tanh(x)", "Tanh"),
    _elementwise("softplus", "log(1 + exp(x))", "Softplus"),
    _node("add", "x + y", "AddLayer"),
    _node("multiply", "x · y", "MulLayer"),
    _node("max", "max(x, y)", "MaxLayer", "a tie x = y"),
    Kind(
        "batchnorm",
        ("x",),
        "out = gamma·(x - mean)/sqrt(var + eps) + beta over the batch (train mode, biased var), "
        "x (N, D), gamma and beta (D,)",
        "batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); batchnorm_backward(dout, "
        "cache) -> (dx, dgamma, dbeta); bn_param = {'mode': 'train', 'eps': 1e-5, "
        "'momentum': 0.9}",
        "BatchNormalization(gamma, beta); forward(x, train_flg=True) -> out; backward(dout) -> "
        "dx; dgamma, dbeta (its eps is read off its output)",
        params=("gamma", "beta"),
        setting="bn_param",
        attributes=_frozen({"dgamma": "dgamma", "dbeta": "dbeta"}),
    ),
    Kind(
        "dropout",
        ("x",),
        "out = x·mask/keep (inverted dropout), mask ~ Bernoulli(keep)",
        "dropout_forward(x, dropout_param) -> (out, cache); dropout_backward(dout, cache) -> "
        "dx; dropout_param = {'mode': 'train', 'p': keep, 'seed': s} (p = keep probability)",
        "Dropout(1 - keep) (the drop ratio); forward(x, train_flg=True) -> out; "
        "backward(dout) -> dx",
        setting="dropout_param",
    ),
    Kind(
        "conv2d",
        ("x",),
        "out[n,f] = Σ_c w[f,c] ⋆ pad(x[n,c]) + b[f] (cross-correlation, zero padding), "
        "x (N, C, H, W), w (F, C, HH, WW), b (F,)",
        "conv2d_forward(x, w, b, conv_param) -> (out, cache); conv2d_backward(dout, cache) -> "
        "(dx, dw, db); conv_param = {'stride': s, 'pad': p} (also conv_forward_naive)",
        "Convolution(W, b, stride, pad); forward(x) -> out; backward(dout) -> dx; dW, db",
        params=("w", "b"),
        setting="conv_param",
        attributes=_frozen({"dw": "dW", "db": "db"}),
    ),
    Kind(
        "maxpool2d",
        ("x",),
        "out[n,c,i,j] = max of x[n,c] over the window at (i·s, j·s), x (N, C, H, W), no padding",
        "maxpool2d_forward(x, pool_param) -> (out, cache); maxpool2d_backward(dout, cache) -> "
        "dx; pool_param = {'pool_height', 'pool_width', 'stride'} (also max_pool_forward_naive)",
        "Pooling(pool_h, pool_w, stride, 0); forward(x) -> out; backward(dout) -> dx",
        setting="pool_param",
        kink="a tie for the maximum of a window",
    ),
    _loss(
        "softmax_ce",
        "loss = -(1/N) Σ_n log softmax(x_n)[y_n], x (N, K), y integer labels (N,)",
        "SoftmaxWithLoss",
    ),
    _loss(
        "svm",
        f"loss = (1/N) Σ_n Σ_(j≠y_n) max(0, x_nj - x_n,y_n + {SVM_MARGIN:g}), x (N, K), y (N,)",
        "SVMLoss",
        "a margin exactly 0",
    ),
    _loss("half_sse", "loss = ½ Σ (x - y)² over every entry, x and y (N, K)", "HalfSSELoss"),
    _loss("sse", "loss = Σ (x - y)² over every entry, x and y (N, K)", "SSELoss"),
    _loss("mse", "loss = mean of (x - y)² over all N·K entries, x and y (N, K)", "MSELoss"),
)

#: Every kind by name, in the order of the table.
KINDS: Mapping[str, Kind] = MappingProxyType({kind.name: kind for kind in _KIND_LIST})

#: Function-name prefixes (``<prefix>_forward``, CS231n's included) and the kind they mean.
FUNCTION_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        **{name: name for name, kind in KINDS.items() if not kind.loss},
        "conv": "conv2d",
        "max_pool": "maxpool2d",
        "max_pool2d": "maxpool2d",
        "maxpool": "maxpool2d",
        "batch_norm": "batchnorm",
        "mul": "multiply",
        "fc": "affine",
        "linear": "affine",
    }
)

#: Loss-function prefixes (``<prefix>_loss``) and the kind they mean.
LOSS_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        **{name: name for name, kind in KINDS.items() if kind.loss},
        "softmax": "softmax_ce",
        "cross_entropy": "softmax_ce",
        "hinge": "svm",
        "multiclass_svm": "svm",
    }
)

#: Class names, lower-cased without underscores and a trailing "layer", and their kind.
CLASS_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "affine": "affine",
        "linear": "affine",
        "fullyconnected": "affine",
        "relu": "relu",
        "leakyrelu": "leaky_relu",
        "sigmoid": "sigmoid",
        "tanh": "tanh",
        "softplus": "softplus",
        "add": "add",
        "mul": "multiply",
        "multiply": "multiply",
        "max": "max",
        "batchnormalization": "batchnorm",
        "batchnorm": "batchnorm",
        "dropout": "dropout",
        "convolution": "conv2d",
        "conv": "conv2d",
        "conv2d": "conv2d",
        "pooling": "maxpool2d",
        "maxpool": "maxpool2d",
        "maxpooling": "maxpool2d",
        "maxpool2d": "maxpool2d",
        "softmaxwithloss": "softmax_ce",
        "softmaxce": "softmax_ce",
        "softmaxceloss": "softmax_ce",
        "softmaxcrossentropy": "softmax_ce",
        "svm": "svm",
        "svmloss": "svm",
        "hingeloss": "svm",
        "halfsse": "half_sse",
        "halfsseloss": "half_sse",
        "sse": "sse",
        "sseloss": "sse",
        "mse": "mse",
        "mseloss": "mse",
    }
)


def get_kind(name: str) -> Kind:
    """The kind called ``name``; raises :class:`UsageError` naming the known kinds."""
    if name not in KINDS:
        raise UsageError(f"--as: got {name!r}, expected one of {', '.join(KINDS)}")
    return KINDS[name]


def class_kind(class_name: str) -> str | None:
    """The kind a class name means (``MulLayer`` -> multiply, ``Pooling`` -> maxpool2d), or
    None: lower case, underscores dropped, a trailing ``layer`` dropped, then
    :data:`CLASS_NAMES`."""
    key = class_name.lower().replace("_", "")
    if key.endswith("layer") and key != "layer":
        key = key.removesuffix("layer")
    return CLASS_NAMES.get(key)
