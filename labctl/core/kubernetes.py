"""Kubernetes on paper: the manifests a student's instance would need, and where to write
them. Rendering makes the instance's plan exactly as ``labctl up`` does (the record, the
student's password, fresh keys: :func:`labctl.instances.lifecycle.instance_plan`), so what
the manifests carry is what a Docker instance gets; nothing is recorded and no engine
or cluster is asked anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from labctl.backends.base import InstancePlan
from labctl.backends.kubernetes import (
    KINDS,
    ImageFacts,
    Manifest,
    image_facts,
    render_instance,
    to_yaml,
)
from labctl.backends.kubernetes.render import SECRET_KINDS
from labctl.core.labs import LabsApi
from labctl.errors import LabctlError
from labctl.instances.lifecycle import instance_plan, new_record
from labctl.scenario.validate import SOURCE_TREE

#: What the rendered instance's record names as its backend.
BACKEND: Final = "kubernetes"
#: Files that hold Secrets are written for their owner alone.
PRIVATE_MODE: Final = 0o600
PUBLIC_MODE: Final = 0o644


@dataclass(frozen=True)
class Rendered:
    """A student's instance as Kubernetes objects, with the plan they were made from."""

    plan: InstancePlan
    manifests: tuple[Manifest, ...]

    def yaml(self) -> str:
        return to_yaml(self.manifests)

    def by_kind(self) -> dict[str, list[Manifest]]:
        """The objects grouped by kind, kinds in the order they are applied."""
        groups: dict[str, list[Manifest]] = {kind: [] for kind in KINDS}
        for manifest in self.manifests:
            groups[manifest["kind"]].append(manifest)
        return {kind: items for kind, items in groups.items() if items}


@dataclass(frozen=True)
class Written:
    path: Path
    kind: str
    count: int


class KubernetesApi:
    def __init__(self, labs: LabsApi, containers: Path = SOURCE_TREE / "containers") -> None:
        self.labs = labs
        self.images: Callable[[str], ImageFacts] = cache(lambda tag: image_facts(containers, tag))

    def render(self, lab_id: str, student: str, seed: int | None = None) -> Rendered:
        """``student``'s instance of a lab as manifests (a seed is drawn when none is given,
        as ``labctl up`` draws one)."""
        loaded = self.labs.get(lab_id)
        record = new_record(loaded, student, seed, BACKEND)
        plan = instance_plan(loaded, record)
        return Rendered(plan, tuple(render_instance(plan, self.images)))

    def write(self, rendered: Rendered, folder: Path) -> list[Written]:
        """One file per kind in ``folder`` (made if missing), numbered in the order
        ``kubectl apply -f FOLDER`` must take them; the Secrets' file readable by its
        owner alone. A kind's file left by an earlier render goes when this instance has
        none of that kind, so the folder holds this instance alone."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabctlError(f"cannot make {folder}: {exc.strerror or exc}") from exc
        groups = rendered.by_kind()
        written = []
        for number, kind in enumerate(KINDS, start=1):
            path = folder / f"{number:02d}-{kind.lower()}.yaml"
            if kind not in groups:
                _remove(path)
                continue
            mode = PRIVATE_MODE if kind in SECRET_KINDS else PUBLIC_MODE
            _write(path, to_yaml(groups[kind]), mode)
            written.append(Written(path, kind, len(groups[kind])))
        return written


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise LabctlError(f"cannot remove {path}: {exc.strerror or exc}") from exc


def _write(path: Path, text: str, mode: int) -> None:
    """``text`` into ``path`` with ``mode`` from its creation (a Secret is never readable
    by others, not even for a moment)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)
            file.write(text)
    except OSError as exc:
        raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from exc
