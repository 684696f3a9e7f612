"""Adapters: one call turns backprop code in the layouts people write into an implementation.

Each returns an object that ``manualbp verify --impl`` and :func:`manualbp.check` accept (a
user's file holds one line, ``IMPL = manualbp.adapters.from_nielsen(network.Network)``):

* :func:`from_nielsen` — a Nielsen-style network class: ``Network(sizes)``, ``weights`` and
  ``biases`` as lists of column-vector matrices, per-sample ``backprop(x, y)``;
* :func:`from_model` — a model class with a ``params`` dict in the (in, out) layout and
  ``loss``/``gradient`` methods (Saito's and CS231n's TwoLayerNet, MultiLayerNet,
  FullyConnectedNet);
* :func:`from_layers` — the user's own layers (CS231n's function pairs or Saito's classes)
  chained into a network.

Every adapter says what it assumed in one line (``describe()``, from its ``assumptions``),
is named in reports by ``name``, declares what it supports (``supports(arch)``; the check
draws its cases there) and offers ``step`` and ``intermediates`` only when the wrapped code
makes them possible. docs/adapters.md shows each on real-world-shaped code.
"""

from manualbp.adapters.base import Adapter
from manualbp.adapters.layers import LayersAdapter, from_layers
from manualbp.adapters.model import ModelAdapter, from_model
from manualbp.adapters.nielsen import NielsenAdapter, from_nielsen

__all__ = [
    "Adapter",
    "LayersAdapter",
    "ModelAdapter",
    "NielsenAdapter",
    "from_layers",
    "from_model",
    "from_nielsen",
]
