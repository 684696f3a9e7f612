"""What a run checks: the subjects, the plan of cases and worked examples, and its units of work.

Data only, and picklable, so that the units can be sent to the supervised worker processes
that run the implementations (:mod:`manualbp.pipeline`). A :class:`Unit` is one check on one
random case or one worked example of one subject; it names its case by the run seed and the
case index (the worker draws the case, :func:`manualbp.checks.base.unit_case`) or carries
an explicit :class:`~manualbp.case.Case`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from manualbp.case import Case
from manualbp.errors import UsageError
from manualbp.protocol import Capabilities
from manualbp.space import ArchSpace

#: Largest run or case seed (seeds print short and fit ``--seed`` / ``--case-seed``).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): the random cases i with i % count == index - 1."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``i/n`` with 1 <= i <= n."""
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise UsageError(f"--shard: got {text!r}, expected i/n such as 1/4") from None
        if not 1 <= index <= count:
            raise UsageError(f"--shard: got {text!r}, expected 1 <= i <= n")
        return cls(index, count)

    def owns(self, case_index: int) -> bool:
        """True when this shard runs random case ``case_index``."""
        return case_index % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class SubjectPlan:
    """One implementation under test, as a worker process needs it to load and run it.

    ``key`` identifies it in a run; ``spec`` is how ``--impl`` names it (loaded in the
    worker), or ``obj`` the implementation itself when it has no spec (Python API, pytest);
    ``name`` labels its Findings; ``space`` is where its random cases are drawn (narrowed to
    the architectures it declares); ``space_args`` are the ``manualbp verify`` words of that
    space (for reproduce lines); ``capabilities`` are read off it when it is described.
    """

    key: str
    spec: str
    name: str
    space: ArchSpace = field(default_factory=ArchSpace)
    space_args: tuple[str, ...] = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    obj: Any = None


@dataclass(frozen=True)
class Unit:
    """One check on one random case or worked example of one subject.

    Random cases: ``index`` (position in the run) with the case drawn from ``run_seed`` and
    the index, or from the explicit ``seed`` (``--case-seed``), or the explicit ``case``.
    Worked examples: ``reference``. ``label`` names the case in Findings (``case-7`` or the
    example's id).
    """

    check: str
    subject: str
    label: str
    index: int | None = None
    run_seed: int = 0
    seed: int | None = None
    case: Case | None = None
    reference: Any = None


@dataclass(frozen=True)
class Plan:
    """What to run on every subject: the checks, the random cases, the worked examples.

    ``cases`` random cases (indices ``first_case`` onwards) seeded from ``seed`` (or exactly
    the ``case_seeds``, or the
    explicit ``explicit_cases``), this ``shard`` of them; ``references``: the worked examples
    (loaded :class:`~manualbp.checks.published.ReferenceExample` objects) for the
    ``published`` check; ``include_trained``: False leaves out the figures after the file's
    ``train_steps`` updates (selftest's mutants, where they cost seconds each).
    """

    checks: tuple[str, ...]
    cases: int = 25
    first_case: int = 0
    seed: int = 0
    case_seeds: tuple[int, ...] = ()
    explicit_cases: tuple[Case, ...] = ()
    shard: Shard | None = None
    references: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.cases, bool) or not isinstance(self.cases, int) or self.cases < 0:
            raise UsageError(f"--cases: got {self.cases!r}, expected a non-negative integer")
        for name, value in (("--seed", self.seed), *(("--case-seed", s) for s in self.case_seeds)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
                raise UsageError(f"{name}: got {value!r}, expected an integer in 0..{MAX_SEED}")

    def case_slots(self) -> list[tuple[int, int | None, Case | None]]:
        """(index, explicit seed or None, explicit case or None) of the random cases this
        shard runs: the explicit cases, else the ``case_seeds``, else ``cases`` indices."""
        if self.explicit_cases:
            slots = [(i, case.seed, case) for i, case in enumerate(self.explicit_cases)]
        elif self.case_seeds:
            slots = [(i, seed, None) for i, seed in enumerate(self.case_seeds)]
        else:
            slots = [(i, None, None) for i in range(self.first_case, self.first_case + self.cases)]
        return [slot for slot in slots if self.shard is None or self.shard.owns(slot[0])]

    @property
    def first_shard(self) -> bool:
        """True when this shard runs the worked examples (they run once, in shard 1)."""
        return self.shard is None or self.shard.index == 1
