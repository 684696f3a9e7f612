"""Quantity: what one Finding compares, as a value with one way in and one way out.

A Finding's ``quantity`` is stored as text in the JSON report (``grad.W2[1,0]``), but every
module that builds or reads one goes through :class:`Quantity`: :meth:`Quantity.format`
writes the text and :meth:`Quantity.parse` reads it back, so no other module parses
quantity strings. The forms:

==========================  =====================  =====================================
text                        kind                   meaning
==========================  =====================  =====================================
``loss``                    ``loss``               E from ``loss()``
``loss.from_gradients``     ``loss.from_gradients``  E as ``gradients()`` returns it
``grad.W2[1,0]``            ``grad``               ∂E/∂W2, worst entry [1,0]
``delta.3[0,1]``            ``delta``              δ_3 = ∂E/∂z_3 (``delta`` alone: δ skipped)
``step3.W1``                ``step``               W1 after 3 gradient-descent steps
``frozen_step2.b1``         ``frozen_step``        b1 after 2 steps with frozen parameters
``repeat.grad.W1[0,2]``     ``repeat``             a second ``gradients()`` call
``grad·v[3]``               ``directional``        gᵀv along random direction 3
``gradients()``             ``call``               the protocol call itself (it misbehaved)
``inputs``                  ``inputs``             the arguments a call must leave unchanged
``case``                    ``case``               the case as a whole (skipped, unsupported)
``central``                 ``method``             a finite-difference method as a whole
anything else               ``named``              a published figure or a layer's ``dx``
==========================  =====================  =====================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: Kinds whose text is a fixed word.
WORDS: tuple[str, ...] = ("loss", "loss.from_gradients", "inputs", "case")
#: Finite-difference methods, which name a Finding of their own when skipped as a whole.
METHOD_WORDS: tuple[str, ...] = ("consistency", "central", "complex_step", "directional", "taylor")

_INDEX = re.compile(r"^(?P<body>.*?)\[(?P<index>-?\d+(?:,-?\d+)*)?\]$")
_PARAMETER = re.compile(r"^[Wb](?P<layer>\d+)$")
_STEP = re.compile(r"^(?P<trajectory>frozen_step|step)(?P<step>\d+)?(?:\.(?P<parameter>.+))?$")


@dataclass(frozen=True)
class Quantity:
    """One compared quantity: its ``kind`` and what the kind needs (see the module docstring).

    ``parameter``: ``W2``, ``b1`` (grad, step, frozen_step, repeat); ``layer``: the δ's layer
    (for parameters it is read off the name, :attr:`layer_number`); ``step``: k of ``stepk``;
    ``index``: the worst entry; ``name``: the text of ``call``, ``method`` and ``named``.
    """

    kind: str
    parameter: str | None = None
    layer: int | None = None
    step: int | None = None
    index: tuple[int, ...] | None = None
    name: str | None = None

    # --- constructors --------------------------------------------------------------------

    @classmethod
    def grad(cls, parameter: str) -> Quantity:
        """∂E/∂``parameter`` (``grad.W2``)."""
        return cls("grad", parameter=parameter)

    @classmethod
    def delta(cls, layer: int | None) -> Quantity:
        """δ_layer (``delta.3``), or ``delta`` for the error terms as a whole."""
        return cls("delta", layer=layer)

    @classmethod
    def stepped(cls, parameter: str | None, step: int | None, frozen: bool = False) -> Quantity:
        """``parameter`` after ``step`` steps (``step3.W1``); no parameter names the trajectory."""
        return cls("frozen_step" if frozen else "step", parameter=parameter, step=step)

    @classmethod
    def repeat(cls, parameter: str) -> Quantity:
        """∂E/∂``parameter`` from a second ``gradients()`` call (``repeat.grad.W1``)."""
        return cls("repeat", parameter=parameter)

    @classmethod
    def call(cls, method: str) -> Quantity:
        """The protocol call ``method()`` itself (``gradients()``)."""
        return cls("call", name=f"{method.removesuffix('()')}()")

    @classmethod
    def word(cls, word: str) -> Quantity:
        """``loss``, ``loss.from_gradients``, ``inputs``, ``case``, a method or any name."""
        if word in WORDS:
            return cls(word)
        if word in METHOD_WORDS:
            return cls("method", name=word)
        return cls("named", name=word)

    @classmethod
    def directional(cls) -> Quantity:
        """gᵀv along random directions (``grad·v``)."""
        return cls("directional")

    def at(self, index: tuple[int, ...] | None) -> Quantity:
        """The same quantity at entry ``index`` (None or () for a whole scalar)."""
        return replace(self, index=tuple(int(i) for i in index) if index else None)

    # --- reading ---------------------------------------------------------------------------

    @property
    def base(self) -> Quantity:
        """The quantity without the index of its worst entry (``grad.W2``)."""
        return replace(self, index=None)

    @property
    def layer_number(self) -> int | None:
        """The layer it belongs to: 3 for ``delta.3``, ``grad.W3``, ``step2.b3``."""
        if self.layer is not None:
            return self.layer
        match = _PARAMETER.match(self.parameter or "")
        return int(match.group("layer")) if match else None

    @property
    def is_weight(self) -> bool:
        """True for a quantity of a weight matrix W_l."""
        return (self.parameter or "").startswith("W")

    @property
    def trajectory(self) -> bool:
        """True for a step of either trajectory (``step``, ``frozen_step``)."""
        return self.kind in ("step", "frozen_step")

    def format(self) -> str:
        """The text form (the module docstring's first column)."""
        body = self._body()
        if self.index is None:
            return body
        return f"{body}[{','.join(str(i) for i in self.index)}]"

    def __str__(self) -> str:
        return self.format()

    def _body(self) -> str:
        kind = self.kind
        if kind in WORDS:
            return kind
        if kind in ("call", "method", "named"):
            return self.name or ""
        if kind == "grad":
            return f"grad.{self.parameter}"
        if kind == "repeat":
            return f"repeat.grad.{self.parameter}"
        if kind == "delta":
            return "delta" if self.layer is None else f"delta.{self.layer}"
        if kind == "directional":
            return "grad·v"
        step = "" if self.step is None else str(self.step)
        parameter = "" if self.parameter is None else f".{self.parameter}"
        return f"{kind}{step}{parameter}"

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """The Quantity whose :meth:`format` is ``text`` (unknown forms become ``named``)."""
        index: tuple[int, ...] | None = None
        body = text
        match = _INDEX.match(text)
        if match and match.group("index") is not None:
            body = match.group("body")
            index = tuple(int(i) for i in match.group("index").split(","))
        return cls._parse_body(body).at(index) if index else cls._parse_body(body)

    @classmethod
    def _parse_body(cls, body: str) -> Quantity:
        if body in WORDS or body in METHOD_WORDS:
            return cls.word(body)
        if body.endswith("()") and body[:-2].isidentifier():
            return cls.call(body[:-2])
        if body == "grad·v":
            return cls.directional()
        if body.startswith("repeat.grad.") and _PARAMETER.match(body[12:]):
            return cls.repeat(body[12:])
        if body.startswith("grad.") and _PARAMETER.match(body[5:]):
            return cls.grad(body[5:])
        if body == "delta":
            return cls.delta(None)
        if body.startswith("delta.") and body[6:].isdigit():
            return cls.delta(int(body[6:]))
        step = _STEP.match(body)
        if step and (step.group("parameter") is None or _PARAMETER.match(step.group("parameter"))):
            number = step.group("step")
            return cls.stepped(
                step.group("parameter"),
                None if number is None else int(number),
                frozen=step.group("trajectory") == "frozen_step",
            )
        return cls("named", name=body)


def base_quantity(text: str) -> str:
    """``grad.W2[1,0]`` -> ``grad.W2``: the quantity text without its worst entry's index."""
    return Quantity.parse(text).base.format()
