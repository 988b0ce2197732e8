"""What every check declares."""

from __future__ import annotations

from typing import ClassVar

from labctl.spec.vocabulary import Args


class Check:
    """A named check with typed arguments.

    Subclasses set ``name`` (what lab.yaml writes), ``summary`` (one line for
    ``labctl labs show`` and the JSON Schema) and ``Args``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Args: ClassVar[type[Args]]
