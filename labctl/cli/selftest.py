"""``labctl selftest LAB``: run the lab's reference solution against fresh instances."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from graders.live.selftest import SelfTest, Step, Target
from labctl.cli.context import err, out, state
from labctl.cli.instances import _backend, _build_missing_images, _instances
from labctl.instances import Instances
from labctl.instances.lifecycle import mission_control_url, variables_of
from labctl.spec import LoadedLab, lab_by_id

SEED_LIMIT = 2**31


class InstancesLauncher:
    """Fresh instances of one lab for the selftest, each under its own student name."""

    def __init__(self, instances: Instances, loaded: LoadedLab) -> None:
        self.instances = instances
        self.loaded = loaded

    def up(self, seed: int) -> Target:
        student = f"selftest-{uuid.uuid4().hex[:8]}"
        record = self.instances.up(self.loaded, student, seed)
        return Target(record.id, mission_control_url(record), variables_of(self.loaded, record))

    def down(self, instance_id: str) -> None:
        self.instances.down(instance_id)


def _show(step: Step) -> None:
    mark = "[green]ok[/]" if step.ok else "[red]SURPRISE[/]"
    err.print(f"seed {step.seed}  {escape(step.step)}: {mark}")


def _table(steps: list[Step]) -> Table:
    table = Table(title="selftest")
    for column in ("seed", "step", "expected", "observed", "ok"):
        table.add_column(column, overflow="fold")
    for s in steps:
        ok = "[green]yes[/]" if s.ok else "[red]NO[/]"
        table.add_row(str(s.seed), escape(s.step), s.expected, escape(s.observed), ok)
    return table


def selftest(
    ctx: typer.Context,
    lab_id: Annotated[str, typer.Argument(metavar="LAB", help="Lab id, e.g. tc-replay.")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=20, help="Fresh instances.")] = 1,
) -> None:
    """Run the lab's reference attack and remediation on fresh instances; exit 1 on a surprise."""
    loaded = lab_by_id(state(ctx).labs(), lab_id)
    backend = _backend()
    if backend.name == "docker":
        _build_missing_images(loaded)
    chosen = sorted({secrets.randbelow(SEED_LIMIT) for _ in range(seeds)})
    started = time.monotonic()
    launcher = InstancesLauncher(_instances(backend), loaded)
    steps = SelfTest(loaded, backend, launcher, _show).run(chosen)
    out.print(_table(steps))
    surprises = sum(not s.ok for s in steps)
    elapsed = time.monotonic() - started
    out.print(
        f"{len(chosen)} seed(s), {len(steps)} steps, {surprises} surprise(s), {elapsed:.0f} s"
    )
    if surprises:
        raise typer.Exit(1)
