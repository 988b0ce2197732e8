"""The labs a user can run: list them (valid or not), load one by id, validate folders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labctl.errors import NotFoundError, SpecError, SpecProblem
from labctl.scenario.validate import lab_in, validate_lab
from labctl.spec import Lab, LoadedLab, find_lab_dirs
from labctl.spec.coverage import Coverage, coverage
from labctl.spec.models import Quiz


@dataclass(frozen=True)
class LabEntry:
    """A lab folder as loading found it: its spec, or every problem in it."""

    path: Path
    loaded: LoadedLab | None = None
    problems: tuple[SpecProblem, ...] = field(default=())

    @property
    def spec(self) -> Lab | None:
        return self.loaded.spec if self.loaded is not None else None


class LabsApi:
    def __init__(self, labs_dir: Path) -> None:
        self.labs_dir = labs_dir

    def all(self) -> list[LabEntry]:
        """Every lab folder under the labs folder, each loaded or with its problems."""
        return self.validate([self.labs_dir])

    def get(self, lab_id: str) -> LoadedLab:
        """One lab by id; :class:`~labctl.errors.NotFoundError` with a suggestion if none.
        Checked as ``validate`` checks it: a lab ``labctl up`` would fail on is refused."""
        return lab_in(self.labs_dir, lab_id)

    def validate(self, paths: Sequence[Path] = ()) -> list[LabEntry]:
        """Lab folders, lab.yaml files or folders of labs (default: the labs folder),
        each loaded or with every problem as file:line:column: field.path: message: the
        spec's, and those of the injects against the hosts (labctl.scenario.validate)."""
        entries = []
        for lab_dir in find_lab_dirs(list(paths) or [self.labs_dir]):
            try:
                entries.append(LabEntry(lab_dir, validate_lab(lab_dir)))
            except SpecError as exc:
                entries.append(LabEntry(lab_dir, problems=tuple(exc.problems)))
        return entries

    def coverage(self, paths: Sequence[Path] = ()) -> tuple[Coverage, list[LabEntry]]:
        """What the valid labs exercise (SPARTA, CISSP, CISM, quiz questions), and the
        lab folders left out because they are invalid."""
        entries = self.validate(paths)
        valid = [e.loaded for e in entries if e.loaded is not None]
        return coverage(valid), [e for e in entries if e.loaded is None]

    def quiz(self, lab_id: str) -> Quiz:
        """The lab's quiz; :class:`~labctl.errors.NotFoundError` when it has none."""
        loaded = self.get(lab_id)
        if loaded.quiz is None:
            raise NotFoundError("quiz", lab_id, hint="this lab has no quiz.yaml")
        return loaded.quiz
