"""manualbp's own layer library, one layer per kind the layer check knows, in two styles.

:mod:`manualbp.layers.functional` holds CS231n-style pairs ``<kind>_forward`` /
``<kind>_backward`` and losses ``<kind>_loss`` (all exported here, so the spec
``manualbp.layers`` discovers every one); :mod:`manualbp.layers.objects` holds Saito-style
classes (``Affine(W, b)``, ``MulLayer()``, ``SoftmaxWithLoss()``, ...). Written next to the
equations, and checked by the layer check like any user's layers: the check never uses them
as a reference.
"""

from manualbp.layers.functional import *  # noqa: F403
from manualbp.layers.functional import __all__  # noqa: F401
