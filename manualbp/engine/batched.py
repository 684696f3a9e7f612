"""Many perturbed losses from one vectorised forward pass (``perturbed_losses``,
``losses_along``).

For M perturbations of single entries of one parameter tensor of layer l,

    E_m = E(θ with θ[name][i_m] replaced by fl(θ[name][i_m] + t_m)),   m = 1..M,

nothing below layer l depends on the perturbed entry: a_{l-1} is computed once. An entry
W_l[i, j] or b_l[i] reaches only the column z_l[:, i], moved by the actual displacement
Δ = fl(θ_e + t) - θ_e of the entry: z_l[:, i] = z_l^0[:, i] + Δ·a_{l-1}[:, j] for W_l[i, j]
(the perturbed row's inner product, a_{l-1} W'_l[i]^T + b_l[i], to rounding) and
z_l^0[:, i] + Δ for b_l[i]. So only a_l[:, i] = f(z_l[:, i]) changes and the next
layer moves by a rank-one term, z_{l+1} = z_{l+1}^0 + (a_l[:, i] - a_l^0[:, i]) W_{l+1}[:, i]^T
(the superscript 0 marks the unperturbed pass). A shared bias reaches every column:
z_l = a_{l-1} W_l^T + b'. The layers above run once on the M perturbed copies of the batch
stacked as M·N rows, and E_m = r Σ_n ℓ(z_L[m, n], a_L[m, n], y[n]).

Along a direction d (one array per moved parameter), E_m = E(fl(θ + fl(t_m·d))): the layers
below the lowest moved one run once, and from it upwards each moved layer uses its M
perturbed matrices, z_l[m] = a_{l-1}[m] W_l[m]^T + b_l[m] (a stacked matrix product).

Complex steps t_m = i·h pass through unchanged (the complex-step derivative). The stacked
rows go through the network's own activation layers (element-wise, as every layer of the
engine), affine layer and loss, so a Network subclass that swaps one of those parts is
evaluated with its own formula; one that overrides the forward pass, the loss or the
affine formula itself is not :func:`batchable`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from manualbp.engine.layers import ActivationLayer, Affine
from manualbp.engine.network import Network

#: Stacked numbers (rows × widest layer) per chunk of perturbations: bounds the memory and
#: keeps each stacked array (1 MiB of float64) near the cache, where the element-wise
#: activations run fastest (2^17 was ~1.5x faster than 2^20 on [20, 64, 64, 10]).
CHUNK_NUMBERS = 2**17


def batchable(network: Network) -> bool:
    """True when ``network`` computes E with the engine's own forward pass, loss, affine
    formula z = a W^T + b and activation layers (a layer whose forward passes on something
    other than what its cache records, such as a mutant feeding z onwards, would make the
    stacked rows differ from ``loss``): the parts :func:`perturbed_losses` rebuilds."""
    cls = type(network)
    return (
        cls.forward is Network.forward
        and cls.loss is Network.loss
        and cls.batch_scale is Network.batch_scale
        and type(network.affine).forward is Affine.forward
        and all(
            type(layer).forward is ActivationLayer.forward for layer in network.activation_layers
        )
    )


def perturbed_losses(
    network: Network,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    index: np.ndarray,
    steps: np.ndarray,
) -> np.ndarray:
    """E_m for params[name].flat[index[m]] moved to fl(value + steps[m]), (M,) -> (M,).

    ``params``, x (N, n_0) and y (N, n_L) as validated by ``prepare``; ``index`` (M,) flat
    indices into params[name]; ``steps`` (M,) real or complex. The result is complex when
    the steps are.
    """
    layer = int(name[1:])
    base = _Base(network, params, layer, _below(network, params, x, layer))
    chunk = max(1, CHUNK_NUMBERS // (x.shape[0] * max(network.arch.sizes[layer:])))
    values = [
        base.losses(name, index[start : start + chunk], steps[start : start + chunk], y)
        for start in range(0, index.shape[0], chunk)
    ]
    return np.concatenate(values) if values else np.empty(0, dtype=np.result_type(x, steps))


def losses_along(
    network: Network,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    direction: Mapping[str, np.ndarray],
    steps: np.ndarray,
) -> np.ndarray:
    """E_m = E(params + steps[m]·direction) for every step, (M,) -> (M,).

    ``direction`` maps some parameter names to arrays of their shapes (the others do not
    move); each moved parameter is formed as fl(p + fl(t_m·d)), as a caller adding the
    step to a flat vector would. The result is complex when the steps are.
    """
    moved = sorted({int(name[1:]) for name in direction})
    a = _below(network, params, x, moved[0])
    largest = max(int(np.size(d)) for d in direction.values())
    widest = max(network.arch.sizes[moved[0] - 1 :])
    chunk = max(1, CHUNK_NUMBERS // max(x.shape[0] * widest, largest))
    values = []
    for start in range(0, steps.shape[0], chunk):
        t = steps[start : start + chunk]
        z = _moved_pass(network, params, a, moved, direction, t)
        values.append(_upper_losses(network, params, moved[-1], z, y))
    return np.concatenate(values) if values else np.empty(0, dtype=np.result_type(x, steps))


def _below(
    network: Network, params: Mapping[str, np.ndarray], x: np.ndarray, layer: int
) -> np.ndarray:
    """a_{layer-1} (N, n_{layer-1}) of the unperturbed pass (x itself for layer 1)."""
    a = x
    for k in range(1, layer):
        z, _ = network.affine.forward(a, params[f"W{k}"], params.get(f"b{k}"))
        a, _ = network.activation_layers[k - 1].forward(z)
    return a


def _moved_pass(
    network: Network,
    params: Mapping[str, np.ndarray],
    a_prev: np.ndarray,
    moved: list[int],
    direction: Mapping[str, np.ndarray],
    t: np.ndarray,
) -> np.ndarray:
    """z_l (M, N, n_l) at the highest moved layer l for the M steps t along ``direction``.

    a_prev (N, n_{l0-1}) is the input of the lowest moved layer l0 = moved[0]; moved layers
    use z[m] = a[m] W[m]^T + b[m] with their stepped parameters, the others the network's
    affine layer on the stacked rows.
    """
    count, n = t.shape[0], a_prev.shape[0]
    a = np.broadcast_to(a_prev, (count, *a_prev.shape))
    for k in range(moved[0], moved[-1] + 1):
        W, b = params[f"W{k}"], params.get(f"b{k}")
        if k in moved:
            z = _stepped_product(a, W, direction.get(f"W{k}"), t)
            if b is not None:
                b_m = _stepped(b, direction.get(f"b{k}"), t)
                z = z + b_m.reshape(b_m.shape[0], 1, -1)
        else:
            z = network.affine.forward(a.reshape(count * n, -1), W, b)[0].reshape(count, n, -1)
        if k < moved[-1]:
            a = network.activation_layers[k - 1].forward(z.reshape(count * n, -1))[0]
            a = a.reshape(count, n, -1)
    return z


def _stepped_product(
    a: np.ndarray, W: np.ndarray, d: np.ndarray | None, t: np.ndarray
) -> np.ndarray:
    """a[m] fl(W + fl(t_m·d))^T (M, N, n_l) for every step; a (M, N, n_{l-1}).

    Real W and d with complex steps (the complex step): the stepped matrices have real part
    R = fl(W + fl(Re t_m·d)) (W itself when Re t = 0) and imaginary part I = fl(Im t_m·d),
    the entries complex arithmetic gives; the product is formed from real products,
    a R^T + i·a I^T for real a and (a_r R^T - a_i I^T) + i·(a_r I^T + a_i R^T) for complex
    a, so no complex copy of W is made.
    """
    if d is None or not np.iscomplexobj(t) or np.iscomplexobj(W):
        return a @ np.swapaxes(_stepped(W, d, t), -1, -2)
    real = np.swapaxes(_stepped(W, d, t.real) if np.any(t.real) else W[None], -1, -2)
    imag = np.swapaxes(t.imag.reshape(-1, *([1] * W.ndim)) * d, -1, -2)
    if np.iscomplexobj(a):
        a_r, a_i = np.ascontiguousarray(a.real), np.ascontiguousarray(a.imag)
        return _complex(a_r @ real - a_i @ imag, a_r @ imag + a_i @ real)
    return _complex(a @ real, a @ imag)


def _complex(real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    """real + i·imag as one complex128 array (no intermediate complex products)."""
    z = np.empty(real.shape, dtype=np.complex128)
    z.real, z.imag = real, imag
    return z


def _stepped(p: np.ndarray, d: np.ndarray | None, t: np.ndarray) -> np.ndarray:
    """fl(p + fl(t_m·d)) for every step (M, *p.shape); p itself (1, *p.shape) when d is None."""
    if d is None:
        return p[None]
    return p + t.reshape(-1, *([1] * p.ndim)) * d


class _Base:
    """The unperturbed pass around layer l and the perturbed losses computed from it.

    a_prev = a_{l-1} (N, n_{l-1}); zW = a_{l-1} W_l^T and z = zW + b_l (N, n_l); a = f(z);
    z_next = z_{l+1}^0 (N, n_{l+1}) when l < L.
    """

    def __init__(
        self, network: Network, params: Mapping[str, np.ndarray], layer: int, a_prev: np.ndarray
    ) -> None:
        self.network, self.params, self.layer, self.a_prev = network, params, layer, a_prev
        self.W = params[f"W{layer}"]
        self.b = params.get(f"b{layer}")
        self.zW = a_prev @ self.W.T
        self.z = self.zW if self.b is None else self.zW + self.b
        self.a, _ = network.activation_layers[layer - 1].forward(self.z)
        self.last = layer == network.arch.depth
        if not self.last:
            self.W_next = params[f"W{layer + 1}"]
            self.z_next, _ = network.affine.forward(
                self.a, self.W_next, params.get(f"b{layer + 1}")
            )

    def losses(self, name: str, index: np.ndarray, steps: np.ndarray, y: np.ndarray) -> np.ndarray:
        """E_m (M,) for one chunk of perturbations of ``name`` (W_l or b_l)."""
        network, layer = self.network, self.layer
        if name[0] == "b" and self.b is not None and self.b.ndim == 0:
            z = self.zW[None] + (self.b + steps)[:, None, None]
            return _upper_losses(network, self.params, layer, z, y)
        i, column = self.column(name, index, steps)
        a_column, _ = network.activation_layers[layer - 1].forward(column.reshape(-1, 1))
        a_column = a_column.reshape(column.shape)
        if not self.last:
            z_next = (a_column - self.a[:, i].T)[:, :, None] * self.W_next[:, i].T[:, None, :]
            z_next += self.z_next
            return _upper_losses(network, self.params, layer + 1, z_next, y)
        m = np.arange(i.shape[0])
        z = np.repeat(self.z[None].astype(column.dtype), i.shape[0], axis=0)
        a = np.repeat(self.a[None].astype(column.dtype), i.shape[0], axis=0)
        z[m, :, i] = column
        a[m, :, i] = a_column
        return _reduced_loss(network, z, a, y)

    def column(
        self, name: str, index: np.ndarray, steps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(i (M,), z_l[:, i] of each perturbation (M, N)) for entries of W_l or a per-unit b_l.

        z_l[:, i] = z_l^0[:, i] + Δ·a_{l-1}[:, j] (W_l[i, j]) or z_l^0[:, i] + Δ (b_l[i]), with
        Δ = fl(θ_e + t) - θ_e the displacement the perturbed entry θ_e really undergoes.
        """
        if name[0] == "W":
            i, j = np.divmod(index, self.W.shape[1])
            start = self.W[i, j]
            return i, self.z[:, i].T + ((start + steps) - start)[:, None] * self.a_prev[:, j].T
        start = self.b[index]  # type: ignore[index]
        return index, self.z[:, index].T + ((start + steps) - start)[:, None]


def _upper_losses(
    network: Network, params: Mapping[str, np.ndarray], layer: int, z: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Run layers ``layer``..L on the stacked pre-activations z (M, N, n_l); E_m (M,)."""
    count, n = z.shape[0], z.shape[1]
    rows = z.reshape(count * n, -1)
    depth = network.arch.depth
    for k in range(layer, depth + 1):
        a, _ = network.activation_layers[k - 1].forward(rows)
        if k == depth:
            break
        rows, _ = network.affine.forward(a, params[f"W{k + 1}"], params.get(f"b{k + 1}"))
    return _reduced_loss(network, rows.reshape(count, n, -1), a.reshape(count, n, -1), y)


def _reduced_loss(network: Network, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """E_m = r Σ_n ℓ(z_L[m, n], a_L[m, n], y[n]) for stacked z_L, a_L (M, N, n_L) -> (M,)."""
    count, n = z.shape[0], z.shape[1]
    per_sample = network.loss_function.value(
        z.reshape(count * n, -1), a.reshape(count * n, -1), np.tile(y, (count, 1))
    )
    return network.batch_scale(n) * per_sample.reshape(count, n).sum(axis=1)
