"""The pipeline that runs checks on implementations: plan → units → executor → Findings.

:mod:`.work` holds what runs where the implementation lives, :mod:`.executors` and
:mod:`.supervisor` where that is (this process, or supervised worker processes), and
:mod:`.run` the one loop every command uses.
"""
