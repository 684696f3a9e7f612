"""Random layer cases: the space they are drawn from and the case itself, rebuilt from its seed.

:func:`draw_case` is a pure function of (kind or shapes, seed, space): the shapes, the
hyper-parameters (stride, padding, pool size, keep probability), every array and the
targets come from ``numpy.random.default_rng(seed)``; the upstream gradient dout and the
second batch of the reuse check come from streams keyed by the same seed
(:meth:`LayerCase.dout`, :meth:`LayerCase.other`). Generic cases draw continuous values, so
ties of max and maxpool and inputs exactly at a kink have probability 0; with
``LayerSpace(kinks=True)`` they are put there on purpose (zeros for relu, x = y for max,
windows of repeated integers for maxpool2d, margins exactly 0 for svm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from manualbp.checks.layer.kinds import Kind
from manualbp.errors import UsageError

Shapes = Mapping[str, tuple[int, ...]]

#: Label layouts the classification losses can be given.
LABELS: tuple[str, ...] = ("int", "one_hot")


@dataclass(frozen=True)
class LayerSpace:
    """Bounds (min, max) of the sizes drawn for random layer cases, and their conventions.

    batch: N (batchnorm draws at least 2); features: D and M of the dense kinds; classes: K
    of the losses; channels, filters, kernel: C, F and HH = WW of conv2d; out_size: H' = W',
    the spatial size of the output of conv2d and maxpool2d (H is derived from it, so every
    window fits exactly); stride, pad: of conv2d; pool: window size of maxpool2d;
    pool_stride: its stride (None: the window size, windows not overlapping). scale: the
    standard deviation of x and of the parameters. keep: dropout's keep probability. bn_eps:
    the eps passed in ``bn_param``. labels: ``int`` or ``one_hot`` targets of softmax_ce and
    svm. kinks: put entries exactly on the kinks (see the module docstring).
    """

    batch: tuple[int, int] = (2, 4)
    features: tuple[int, int] = (1, 5)
    classes: tuple[int, int] = (2, 5)
    channels: tuple[int, int] = (1, 2)
    filters: tuple[int, int] = (1, 3)
    kernel: tuple[int, int] = (1, 3)
    out_size: tuple[int, int] = (1, 3)
    stride: tuple[int, int] = (1, 2)
    pad: tuple[int, int] = (0, 1)
    pool: tuple[int, int] = (2, 3)
    pool_stride: tuple[int, int] | None = None
    scale: float = 1.0
    keep: float = 0.6
    bn_eps: float = 1e-5
    labels: str = "int"
    kinks: bool = False

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name in ("pool_stride",) and value is None:
                continue
            if isinstance(value, tuple):
                low = 0 if spec.name == "pad" else 1
                ok = len(value) == 2 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value
                )
                if not ok or not low <= value[0] <= value[1]:
                    raise UsageError(
                        f"LayerSpace.{spec.name}: got {value!r}, expected (min, max) integers "
                        f"with {low} <= min <= max"
                    )
        if self.classes[0] < 2:
            raise UsageError(f"LayerSpace.classes: got {self.classes!r}, expected min >= 2")
        if not (isinstance(self.scale, (int, float)) and 0 < self.scale < 1e100):
            raise UsageError(f"LayerSpace.scale: got {self.scale!r}, expected a positive number")
        if not (isinstance(self.keep, (int, float)) and 0 < self.keep <= 1):
            raise UsageError(f"LayerSpace.keep: got {self.keep!r}, expected 0 < keep <= 1")
        if not (isinstance(self.bn_eps, (int, float)) and 0 <= self.bn_eps < 1):
            raise UsageError(f"LayerSpace.bn_eps: got {self.bn_eps!r}, expected 0 <= eps < 1")
        if self.labels not in LABELS:
            raise UsageError(f"LayerSpace.labels: got {self.labels!r}, expected int or one_hot")


@dataclass(frozen=True)
class LayerCase:
    """One layer case: the differentiable arrays in calling order (``values``), the targets
    of a loss, the hyper-parameters (``config``: stride, pad, pool_h, pool_w, keep, eps,
    mask_seed as they apply), the output shape the kind's convention implies (None for a
    layer of unknown kind), and the seed that rebuilds it."""

    case_id: str
    seed: int
    kind: str | None
    values: dict[str, np.ndarray]
    targets: np.ndarray | None = None
    config: dict[str, Any] = field(default_factory=dict)
    out_shape: tuple[int, ...] | None = None

    @property
    def batch_size(self) -> int:
        """N, the first axis of x (1 for a scalar x)."""
        x = next(iter(self.values.values()))
        return int(x.shape[0]) if x.ndim else 1

    def dout(self, shape: tuple[int, ...], stream: int = 1) -> np.ndarray:
        """An upstream gradient ∂E/∂out of ``shape``, N(0, 1), from the stream (seed,
        ``stream``): 1 for the one compared, 3 for the first call of the reuse check."""
        return np.random.default_rng((self.seed, stream)).standard_normal(shape)

    def other(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """``values`` with the arrays ``names`` redrawn from the stream (seed, 2): the first
        batch of the reuse check (a forward and backward before the one compared)."""
        rng = np.random.default_rng((self.seed, 2))
        scale = float(self.config.get("scale", 1.0))
        return {
            name: scale * rng.standard_normal(value.shape) if name in names else value
            for name, value in self.values.items()
        }


def _draw(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _normal(rng: np.random.Generator, scale: float, *shape: int) -> np.ndarray:
    return scale * rng.standard_normal(shape)


def _labels(rng: np.random.Generator, n: int, k: int, layout: str) -> np.ndarray:
    labels = rng.integers(0, k, size=n)
    return np.eye(k)[labels] if layout == "one_hot" else labels


def _spatial_size(out_size: int, window: int, stride: int, pad: int) -> int:
    """H with (H + 2·pad - window)/stride + 1 = out_size exactly (out_size raised until H >= 1)."""
    while (out_size - 1) * stride + window - 2 * pad < 1:
        out_size += 1
    return (out_size - 1) * stride + window - 2 * pad


def _dense(kind: Kind, rng: np.random.Generator, space: LayerSpace) -> LayerCase:
    """Arrays of the dense kinds (everything but conv2d and maxpool2d)."""
    s = space.scale
    n = _draw(rng, space.batch)
    if kind.name == "batchnorm":
        n = max(n, 2)
    d = _draw(rng, space.classes if kind.loss else space.features)
    values = {"x": _normal(rng, s, n, d)}
    config: dict[str, Any] = {}
    targets = None
    if kind.name == "affine":
        m = _draw(rng, space.features)
        values |= {"w": _normal(rng, s, d, m), "b": _normal(rng, s, m)}
        out: tuple[int, ...] = (n, m)
    elif kind.name == "batchnorm":
        values |= {"gamma": _normal(rng, s, d), "beta": _normal(rng, s, d)}
        config["eps"] = space.bn_eps
        out = (n, d)
    elif kind.loss:
        if kind.name in ("softmax_ce", "svm"):
            targets = _labels(rng, n, d, space.labels)
        else:
            targets = _normal(rng, s, n, d)
        out = ()
    else:
        if len(kind.inputs) == 2:
            values["y"] = _normal(rng, s, n, d)
        out = (n, d)
    if kind.name == "dropout":
        config["keep"] = space.keep
    return LayerCase("", 0, kind.name, values, targets, config, out)


def _spatial(kind: Kind, rng: np.random.Generator, space: LayerSpace) -> LayerCase:
    """Arrays of conv2d and maxpool2d: x (N, C, H, W) sized so that every window fits."""
    n, c = _draw(rng, space.batch), _draw(rng, space.channels)
    out_h, out_w = _draw(rng, space.out_size), _draw(rng, space.out_size)
    s = space.scale
    if kind.name == "conv2d":
        f, k = _draw(rng, space.filters), _draw(rng, space.kernel)
        stride, pad = _draw(rng, space.stride), _draw(rng, space.pad)
        h, w = _spatial_size(out_h, k, stride, pad), _spatial_size(out_w, k, stride, pad)
        values = {
            "x": _normal(rng, s, n, c, h, w),
            "w": _normal(rng, s, f, c, k, k),
            "b": _normal(rng, s, f),
        }
        config = {"stride": stride, "pad": pad}
        out = (n, f, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
        return LayerCase("", 0, kind.name, values, None, config, out)
    pool = _draw(rng, space.pool)
    stride = pool if space.pool_stride is None else _draw(rng, space.pool_stride)
    h, w = _spatial_size(out_h, pool, stride, 0), _spatial_size(out_w, pool, stride, 0)
    config = {"pool_h": pool, "pool_w": pool, "stride": stride}
    out = (n, c, (h - pool) // stride + 1, (w - pool) // stride + 1)
    return LayerCase("", 0, kind.name, {"x": _normal(rng, s, n, c, h, w)}, None, config, out)


def _place_kinks(case: LayerCase, rng: np.random.Generator) -> None:
    """Put entries exactly on the kind's kink (in place): a third of x at 0 (relu,
    leaky_relu), y = x on a third (max), x from {-1, 0, 1} (maxpool2d and svm: ties and
    margins x_j - x_y + 1 = 0)."""
    x = case.values["x"]
    if case.kind in ("relu", "leaky_relu"):
        x[rng.random(x.shape) < 1 / 3] = 0.0
    elif case.kind == "max":
        chosen = rng.random(x.shape) < 1 / 3
        case.values["y"][chosen] = x[chosen]
    elif case.kind in ("maxpool2d", "svm"):
        x[...] = rng.integers(-1, 2, size=x.shape).astype(np.float64)


def draw_case(
    kind: Kind | None,
    seed: int,
    space: LayerSpace | None = None,
    case_id: str | None = None,
    shapes: Shapes | None = None,
) -> LayerCase:
    """The case of ``kind`` (or, for a layer of unknown kind, of arrays of ``shapes``) drawn
    from ``numpy.random.default_rng(seed)`` within ``space`` (see :class:`LayerSpace`)."""
    space = space or LayerSpace()
    rng = np.random.default_rng(seed)
    if kind is None:
        if not shapes:
            raise UsageError("shapes: a layer of unknown kind needs the shape of each array")
        values = {name: _normal(rng, space.scale, *shape) for name, shape in shapes.items()}
        case = LayerCase("", 0, None, values)
    elif kind.name in ("conv2d", "maxpool2d"):
        case = _spatial(kind, rng, space)
    else:
        case = _dense(kind, rng, space)
    if space.kinks:
        _place_kinks(case, rng)
    config = {**case.config, "scale": space.scale, "mask_seed": seed % 2**31}
    return LayerCase(
        case_id or f"seed-{seed}",
        seed,
        case.kind,
        case.values,
        case.targets,
        config,
        case.out_shape,
    )
