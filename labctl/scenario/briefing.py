"""A lab's briefing for one student: only public parameters ever reach it."""

from __future__ import annotations

from labctl.errors import LabctlError
from labctl.scenario.engine import parameters, variables
from labctl.scenario.render import render_text
from labctl.spec import LoadedLab


def render_briefing(
    loaded: LoadedLab, student: str, seed: int | str, instance: str, slot: int | None = None
) -> str:
    """``labs/<lab>/briefing.md`` rendered with the student's public parameters.

    Secret parameters are left out of the variables altogether, so a briefing that names
    one fails to render instead of leaking it.
    """
    path = loaded.file(loaded.spec.briefing)
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabctlError(f"briefing {path} cannot be read: {exc}") from None
    public = parameters(loaded.spec, student, seed, slot).public()
    return render_text(template, variables(public, student, instance, loaded.id), str(path))
