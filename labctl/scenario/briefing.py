"""A lab's briefing for one student: only public parameters ever reach it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labctl.errors import LabctlError
from labctl.scenario.engine import parameters, variables
from labctl.scenario.render import render_text
from labctl.spec import LoadedLab


def render_briefing(
    loaded: LoadedLab,
    student: str,
    seed: int | str,
    instance: str,
    slot: int | None = None,
    *,
    phases: Sequence[str] = (),
) -> str:
    """``labs/<lab>/briefing.md`` rendered with the student's public parameters, followed
    by the briefing of each open phase in ``phases`` that has one.

    Secret parameters are left out of the variables altogether, so a briefing that names
    one fails to render instead of leaking it.
    """
    public = parameters(loaded.spec, student, seed, slot).public()
    values = variables(public, student, instance, loaded.id)
    files = [loaded.spec.briefing]
    for ident in phases:
        phase = loaded.spec.phase(ident)
        if phase is not None and phase.briefing:
            files.append(phase.briefing)
    return "\n\n".join(_render(loaded, name, values).strip("\n") for name in files) + "\n"


def _render(loaded: LoadedLab, name: str, values: dict[str, Any]) -> str:
    path = loaded.file(name)
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabctlError(f"briefing {path} cannot be read: {exc}") from None
    return render_text(template, values, str(path))
