"""manualbp's own backprop engine, exposed as an implementation of the public protocol.

The module itself is the implementation (``--impl manualbp.engine``, and the default of
every check): :func:`loss`, :func:`gradients`, :func:`intermediates`, :func:`step`,
``supports_complex = True``, and :func:`perturbed_losses` and :func:`losses_along` (many
perturbed losses in one vectorised pass, for the finite-difference check). The pieces —
activations, losses, layers with explicit caches, the :class:`Network`, the SGD trainer and
the scalar graph nodes — live in the submodules and are written to be read next to the
equations.
"""

from __future__ import annotations

from manualbp.engine.graph import make_node as graph_node
from manualbp.engine.implementation import EngineImplementation, prepare
from manualbp.engine.layers import Affine as affine_layer
from manualbp.engine.network import BackwardPass, ForwardPass, Network

__all__ = [
    "BackwardPass",
    "EngineImplementation",
    "ForwardPass",
    "Network",
    "affine_layer",
    "gradients",
    "graph_node",
    "intermediates",
    "loss",
    "losses_along",
    "name",
    "perturbed_losses",
    "prepare",
    "step",
    "supports_complex",
]

_default = EngineImplementation()
name = _default.name
supports_complex = True
loss = _default.loss
gradients = _default.gradients
intermediates = _default.intermediates
perturbed_losses = _default.perturbed_losses
losses_along = _default.losses_along
step = _default.step
