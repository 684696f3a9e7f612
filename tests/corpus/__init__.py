"""A corpus of independently written, correct foreign implementations of the protocol, and
realistic one-line bugs of each.

Each module is "user code" in one textbook style with that style's naive numerics (see its
docstring); it exports its correct implementation as ``IMPL`` and its bugs as ``BUG_*``
objects. :data:`CORPUS` names them by ``--impl`` spec (relative to the repository root),
with the ``manualbp verify`` options that describe where each runs and where each bug shows,
and the diagnosis kind (:data:`manualbp.diagnosis.KINDS`) the mathematics of each bug
implies. The gate is proven on them; ``test_corpus.py`` proves them, independently of the
gate, against the torch mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

DIRECTORY = "tests/corpus"


@dataclass(frozen=True)
class Bug:
    """One realistic bug of a corpus implementation."""

    spec: str  # "tests/corpus/nielsen.py:BUG_SIGMA_PRIME_AT_ACTIVATION"
    description: str  # one line: what the line of code does wrong
    kind: str  # expected diagnosis kind (manualbp.diagnosis.KINDS)
    space_args: tuple[str, ...] = ()  # extra `manualbp verify` options where the bug shows
    also: tuple[str, ...] = ()  # kinds the bug's mathematics also implies on some cases

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every diagnosis kind that names this bug rightly."""
        return (self.kind, *self.also)


@dataclass(frozen=True)
class CorpusEntry:
    """A correct implementation of the corpus and its bugs."""

    name: str  # "nielsen"
    spec: str  # "tests/corpus/nielsen.py:IMPL"
    style: str  # one line
    space_args: tuple[str, ...]  # `manualbp verify` options naming its supported space
    bugs: tuple[Bug, ...]


def _bug(
    module: str,
    name: str,
    kind: str,
    description: str,
    *space_args: str,
    also: tuple[str, ...] = (),
) -> Bug:
    return Bug(f"{DIRECTORY}/{module}.py:{name}", description, kind, tuple(space_args), also)


def _entry(
    name: str, style: str, space_args: tuple[str, ...], bugs: tuple[Bug, ...]
) -> CorpusEntry:
    return CorpusEntry(name, f"{DIRECTORY}/{name}.py:IMPL", style, space_args, bugs)


NIELSEN = _entry(
    "nielsen",
    "Nielsen network.py: column vectors, per-sample backprop, sigmoid, quadratic cost, "
    "update_mini_batch; through adapters.from_nielsen (supports(arch), step, intermediates)",
    ("--activations", "sigmoid", "--losses", "half_sse", "--bias-modes", "per_unit"),
    (
        _bug(
            "nielsen",
            "BUG_SIGMA_PRIME_AT_ACTIVATION",
            "derivative_at_output",
            "hidden error multiplies by sigmoid_prime(a) of the layer's activation, not of z",
            "--depth",
            "2-5",
        ),
        _bug(
            "nielsen",
            "BUG_HIDDEN_ERROR_W_NOT_TRANSPOSED",
            "transposed",
            "hidden error is np.dot(w, delta) without w.transpose() (runs on square layers only)",
            "--depth",
            "2-5",
            "--width",
            "3-3",
        ),
        _bug(
            "nielsen",
            "BUG_COST_DERIVATIVE_SIGN_FLIPPED",
            "sign_flip",
            "cost_derivative returns y - a instead of a - y",
        ),
        _bug(
            "nielsen",
            "BUG_UPDATE_ETA_NOT_AVERAGED",
            "factor_N",
            "update_mini_batch subtracts eta * nabla instead of (eta / len(mini_batch)) * nabla",
            "--batch",
            "2-16",
        ),
    ),
)

NIELSEN2 = _entry(
    "nielsen2",
    "Nielsen network2.py: cost objects (CrossEntropyCost with nan_to_num logs, "
    "QuadraticCost), total_cost averages; through adapters.from_nielsen with both costs",
    ("--activations", "sigmoid", "--losses", "bce,half_sse", "--bias-modes", "per_unit"),
    (
        _bug(
            "nielsen2",
            "BUG_CE_DELTA_TIMES_SIGMA_PRIME",
            "other",
            "CrossEntropyCost.delta returns (a - y) * sigmoid_prime(z): σ' already cancelled",
            "--losses",
            "bce",
        ),
        _bug(
            "nielsen2",
            "BUG_QUADRATIC_DELTA_WITHOUT_SIGMA_PRIME",
            "missing_activation_derivative",
            "QuadraticCost.delta returns a - y, the cross-entropy shortcut, without σ'(z)",
            "--losses",
            "half_sse",
        ),
        _bug(
            "nielsen2",
            "BUG_WEIGHT_GRADIENT_TRANSPOSED",
            "transposed",
            "nabla_w is np.dot(a_in, delta.T) instead of np.dot(delta, a_in.T) (square only)",
            "--width",
            "3-3",
        ),
        _bug(
            "nielsen2",
            "BUG_TOTAL_COST_NOT_AVERAGED",
            "factor_N",
            "total_cost forgets / len(data): the mean loss is reported as the batch sum",
            "--reductions",
            "mean",
            "--batch",
            "2-16",
        ),
    ),
)

SAITO = _entry(
    "saito",
    "Saito ch.5: Affine/Sigmoid/Relu/SoftmaxWithLoss layer objects, W (in, out), "
    "MultiLayerNet with an OrderedDict of layers, SGD in place; through adapters.from_model "
    "(supports(arch), step with its SGD)",
    (
        "--activations",
        "relu,sigmoid,identity",
        "--losses",
        "softmax_ce,half_sse",
        "--bias-modes",
        "per_unit",
        "--reductions",
        "mean",
    ),
    (
        _bug(
            "saito",
            "BUG_SIGMOID_BACKWARD_MISSING_OUT",
            "other",
            "Sigmoid.backward returns dout * (1.0 - out), without the factor out",
            "--activations",
            "sigmoid",
            "--losses",
            "half_sse",
        ),
        _bug(
            "saito",
            "BUG_RELU_MASK_INVERTED",
            "other",
            "Relu.backward zeroes dout[~mask] (where x > 0) instead of dout[mask]",
            "--activations",
            "relu",
            "--losses",
            "half_sse",
            "--batch",
            "8-16",
        ),
        _bug(
            "saito",
            "BUG_AFFINE_DW_WRONG_ORDER",
            "transposed",
            "Affine.backward computes dW = np.dot(dout.T, x), (out, in) in the (in, out) layout",
            "--width",
            "3-3",
            "--activations",
            "sigmoid,identity",
        ),
        _bug(
            "saito",
            "BUG_SOFTMAX_NOT_DIVIDED_BY_BATCH",
            "factor_N",
            "SoftmaxWithLoss.backward returns y - t without / batch_size; the loss is the mean",
            "--losses",
            "softmax_ce",
            "--width",
            "2-16",
            "--batch",
            "2-16",
        ),
        _bug(
            "saito",
            "BUG_AFFINE_DX_NOT_TRANSPOSED",
            "transposed",
            "Affine.backward returns np.dot(dout, W) for np.dot(dout, W.T) (runs on square "
            "layers only)",
            "--depth",
            "2-3",
            "--width",
            "3-3",
            "--activations",
            "sigmoid,identity",
        ),
    ),
)

CS231N = _entry(
    "cs231n",
    "CS231n layers.py/fc_net.py: functional *_forward/*_backward pairs, W (in, out), "
    "softmax_loss with integer labels; through adapters.from_model on a fixed list of "
    "architectures",
    (),
    (
        _bug(
            "cs231n",
            "BUG_SOFTMAX_DX_NOT_DIVIDED_BY_N",
            "factor_N",
            "softmax_loss forgets dx /= N while the loss is divided by N",
            "--batch",
            "2-16",
        ),
        _bug(
            "cs231n",
            "BUG_SOFTMAX_LOSS_NOT_DIVIDED_BY_N",
            "factor_N",
            "softmax_loss forgets / N on the loss while dx is divided by N",
            "--batch",
            "2-16",
        ),
        _bug(
            "cs231n",
            "BUG_SOFTMAX_DX_LABEL_PLUS_ONE",
            "other",
            "softmax_loss writes dx[range(N), y] += 1 instead of -= 1",
            # dx is wrong exactly at each row's label: when every row has the same label,
            # that is one whole column of the output error wrong and the rest right
            also=("partial_units",),
        ),
        _bug(
            "cs231n",
            "BUG_RELU_BACKWARD_MASK_INVERTED",
            "other",
            "relu_backward multiplies dout by (x <= 0) instead of (x > 0)",
            "--batch",
            "8-16",
        ),
        _bug(
            "cs231n",
            "BUG_AFFINE_DB_WITHOUT_AXIS",
            "other",
            "affine_backward takes db = np.sum(dout) without axis=0: one number per layer",
        ),
    ),
)

MICROGRAD = _entry(
    "micrograd",
    "micrograd: scalar Value graph, _prev as a set, topological sort over it (summation "
    "order varies between calls); supports(arch) limits the size; has step",
    (
        "--activations",
        "tanh,relu,identity,sigmoid",
        "--losses",
        "half_sse,sse,mse,bce",
        "--bias-modes",
        "per_unit",
        "--depth",
        "1-3",
        "--width",
        "1-6",
    ),
    (
        _bug(
            "micrograd",
            "BUG_MUL_GRAD_OVERWRITTEN",
            "other",
            "Value.__mul__'s _backward assigns self.grad = ... instead of +=: one contribution "
            "survives, which one depends on the set order",
            "--batch",
            "2-16",
            "--activations",
            "tanh,sigmoid,identity",
        ),
        _bug(
            "micrograd",
            "BUG_TANH_BACKWARD_WITHOUT_SQUARE",
            "other",
            "Value.tanh's _backward uses (1 - t) instead of (1 - t**2)",
            "--activations",
            "tanh",
            "--losses",
            "half_sse,sse,mse",
        ),
        _bug(
            "micrograd",
            "BUG_POW_BACKWARD_MISSING_EXPONENT",
            "factor_half",
            "Value.__pow__'s _backward drops the exponent: d(u**2) = u, every gradient halved",
            "--activations",
            "tanh,identity",
            "--losses",
            "half_sse,sse,mse",
        ),
        _bug(
            "micrograd",
            "BUG_NO_ZERO_GRAD",
            "inconsistent_between_calls",
            "model.zero_grad() forgotten before loss.backward(): gradients pile up across calls",
            "--activations",
            "tanh,sigmoid,identity",
        ),
        _bug(
            "micrograd",
            "BUG_STEP_SIGN_FLIPPED",
            "sign_flip",
            "the update is p.data += lr * p.grad, climbing the loss",
            "--activations",
            "tanh,sigmoid,identity",
        ),
    ),
)

NAIVE_NUMPY = _entry(
    "naive_numpy",
    "batch-matrix NumPy MLP from textbook formulas: unshifted softmax, log(1 + exp), "
    "BCE through (a - y)/(a(1 - a)); everything; step, intermediates, supports_complex",
    (),
    (
        _bug(
            "naive_numpy",
            "BUG_MEAN_GRADIENT_SUMMED",
            "factor_N",
            "the output error of the mean loss is not divided by N",
            "--reductions",
            "mean",
            "--batch",
            "2-16",
            "--activations",
            "sigmoid,tanh,leaky_relu,softplus,identity",
            "--width",
            "2-16",
        ),
        _bug(
            "naive_numpy",
            "BUG_SIGMOID_PRIME_OF_Z",
            "other",
            "sigmoid derivative written in the output form a(1 - a) but fed z: z(1 - z)",
            "--activations",
            "sigmoid",
            "--losses",
            "half_sse,sse,mse",
        ),
        _bug(
            "naive_numpy",
            "BUG_SOFTPLUS_PRIME_AT_OUTPUT",
            "derivative_at_output",
            "softplus derivative taken as sigmoid(a) of the output instead of sigmoid(z)",
            "--activations",
            "softplus",
            "--losses",
            "half_sse,sse,mse",
        ),
        _bug(
            "naive_numpy",
            "BUG_HALF_SSE_GRADIENT_DOUBLED",
            "factor_2",
            "the half_sse output gradient is written 2(a - y)",
            "--losses",
            "half_sse",
            "--activations",
            "sigmoid,tanh,leaky_relu,softplus,identity",
        ),
        _bug(
            "naive_numpy",
            "BUG_FROZEN_IGNORED",
            "frozen_updated",
            "step updates every parameter, the frozen ones included",
            "--activations",
            "sigmoid,tanh,leaky_relu,softplus,identity",
            "--width",
            "2-16",
        ),
    ),
)

EINSUM_LOOPS = _entry(
    "einsum_loops",
    "einsum forward, per-unit and per-sample Python loops for the error terms and "
    "gradients, W (out, in); raises NotImplementedError; has intermediates",
    (
        "--activations",
        "relu,leaky_relu,sigmoid,tanh,identity",
        "--losses",
        "half_sse,sse,mse",
        "--bias-modes",
        "per_unit,shared",
    ),
    (
        _bug(
            "einsum_loops",
            "BUG_MSE_WITHOUT_ONE_OVER_K",
            "factor_K",
            "the mse output gradient is 2(a - y) without / K",
            "--losses",
            "mse",
            "--width",
            "2-16",
            "--activations",
            "leaky_relu,sigmoid,tanh,identity",
        ),
        _bug(
            "einsum_loops",
            "BUG_WEIGHT_GRADIENT_ASSIGNED",
            "other",
            "the per-sample loop assigns dW = delta_n a_n^T instead of adding: last sample only",
            "--batch",
            "2-16",
            "--activations",
            "leaky_relu,sigmoid,tanh,identity",
        ),
        _bug(
            "einsum_loops",
            "BUG_SHARED_BIAS_FIRST_UNIT",
            "other",
            "a shared bias gets only the first unit's error term, not the sum over units",
            "--bias-modes",
            "shared",
            "--width",
            "2-16",
            "--activations",
            "leaky_relu,sigmoid,tanh,identity",
        ),
        _bug(
            "einsum_loops",
            "BUG_LEAKY_SLOPE_ZERO",
            "other",
            "leaky ReLU's slope below 0 is taken as ReLU's 0 instead of 0.01",
            "--activations",
            "leaky_relu",
            "--batch",
            "8-16",
        ),
        _bug(
            "einsum_loops",
            "BUG_TANH_SLOPE_AT_OUTPUT",
            "derivative_at_output",
            "tanh'(a) = 1 - tanh(a)^2 of the activation instead of tanh'(z)",
            "--activations",
            "tanh",
        ),
    ),
)

CORPUS: tuple[CorpusEntry, ...] = (
    NIELSEN,
    NIELSEN2,
    SAITO,
    CS231N,
    MICROGRAD,
    NAIVE_NUMPY,
    EINSUM_LOOPS,
)
