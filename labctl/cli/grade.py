"""``labctl grade INSTANCE`` (the score report), ``labctl check INSTANCE`` (the student's
self-check) and ``labctl solve INSTANCE`` (the lab's reference solution, for instructors)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from graders.checks.base import CheckResult
from graders.live.grade import GradeTarget, check_instance, grade_instance
from graders.live.probe import LiveProbe
from graders.live.solution import Solver
from graders.live.vantage import vantage
from graders.score import ObjectiveScore, ScoreReport, render_html, render_markdown
from labctl.cli.context import err, out, state
from labctl.cli.instances import _backend, _instances
from labctl.cli.params import InstanceArg, path_parser
from labctl.errors import LabctlError
from labctl.instances import InstanceRecord
from labctl.instances.lifecycle import grade_target
from labctl.spec import LoadedLab, lab_by_id
from labctl.spec.models import Objective


def _target(ctx: typer.Context, ident: str) -> tuple[LoadedLab, InstanceRecord, GradeTarget]:
    record = _instances().current(ident)  # the ports it publishes now
    loaded = lab_by_id(state(ctx).labs(), record.lab)
    return loaded, record, grade_target(loaded, record)


def _progress(objective: Objective, result: CheckResult) -> None:
    err.print(f"  {escape(objective.id)}: {result.status.value}")


def grade(
    ctx: typer.Context,
    instance: InstanceArg,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            "-r",
            help="The student's audit report (Markdown).",
            parser=path_parser("--report", folder=False),
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder for score.json, score.md, score.html.",
            parser=path_parser("--output", folder=True),
        ),
    ] = None,
) -> None:
    """Grade an instance (and its audit report): JSON, Markdown and HTML score reports."""
    if report is not None and not report.is_file():
        raise LabctlError(f"no report at {report}: give the path of the student's Markdown file")
    loaded, record, target = _target(ctx, instance)
    err.print(f"grading {record.id} (lab {loaded.id}, student {record.student})")
    result = grade_instance(_backend(), loaded, target, report, _progress)
    folder = output or Path("scores") / record.id
    paths = _write(result, folder)
    out.print(_objectives_table(result.objectives, "Score"))
    out.print(
        f"[bold]{result.points:g} / {result.points_possible} points[/]"
        f" ({result.percent:.0f} %) for {escape(record.student)}"
    )
    for path in paths:
        out.print(f"  {escape(str(path))}")


def _write(result: ScoreReport, folder: Path) -> list[Path]:
    views = {
        "score.json": result.to_json(),
        "score.md": render_markdown(result),
        "score.html": render_html(result),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in views.items():
            path = folder / name
            partial = path.with_name(f".{name}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
            written.append(path)
    except OSError as exc:
        raise LabctlError(
            f"cannot write the score report in {folder}: {exc.strerror or exc}"
        ) from None
    return written


def check(ctx: typer.Context, instance: InstanceArg) -> None:
    """Self-check: which objectives hold now, with hints (hidden objectives are not shown)."""
    loaded, record, target = _target(ctx, instance)
    err.print(f"checking {record.id} (lab {loaded.id})")
    results = check_instance(_backend(), loaded, target, _progress)
    out.print(_objectives_table(results, "Self-check"))
    holding = sum(r.holds and not r.gated_by for r in results)
    out.print(f"{holding} of {len(results)} objective(s) hold")


def _objectives_table(results: tuple[ObjectiveScore, ...], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("objective", "kind", "verdict", "points", "evidence / hint"):
        table.add_column(column, overflow="fold")
    for r in results:
        verdict = {"pass": "[green]pass[/]", "fail": "[red]fail[/]"}.get(
            r.verdict.value, f"[yellow]{r.verdict.value}[/]"
        )
        if r.gated_by:
            verdict += f"\n[yellow]needs {escape(', '.join(r.gated_by))}[/]"
        detail = escape(r.evidence) + (f"\n[cyan]hint:[/] {escape(r.hint)}" if r.hint else "")
        points = f"{r.points:g} / {r.points_possible}"
        table.add_row(escape(r.title), r.kind, verdict, points, detail)
    return table


def solve(
    ctx: typer.Context,
    instance: InstanceArg,
    attack: Annotated[
        bool, typer.Option("--attack/--no-attack", help="Run the reference attack.")
    ] = True,
    remediate: Annotated[
        bool, typer.Option("--remediate/--no-remediate", help="Apply the reference fix.")
    ] = True,
) -> None:
    """Run the lab's reference attack and/or remediation on a running instance (instructors)."""
    loaded, record, target = _target(ctx, instance)
    backend = _backend()
    failed = 0
    with (
        vantage(backend, record.id, uuid.uuid4().hex[:12]) as host,
        LiveProbe(backend, record.id, target.mission_control, host) as probe,
    ):
        solver = Solver(backend, loaded, record.id, probe)
        if not solver.ready():
            raise LabctlError(
                f"{record.id}: mission control is not linked to the ground station;"
                f" see labctl status {record.id}"
            )
        runs = []
        if attack and loaded.spec.solution.attack is not None:
            err.print("running the reference attack on the attacker (an operator works meanwhile)")
            runs.append(solver.attack())
        if remediate:
            for step in solver.remediation_steps():
                err.print(f"remediation: {step.script} on {step.host} as {step.user}")
                runs.append(solver.remediate_step(step))
            for restarting in solver.restarts():
                err.print(f"restarting {restarting}")
                if not solver.restart(restarting):
                    err.print(
                        f"[yellow]mission control is not linked after restarting {restarting}[/]"
                    )
    for run in runs:
        mark = "[green]exit 0[/]" if run.exit_code == 0 else f"[red]exit {run.exit_code}[/]"
        extra = f" [{escape(run.operator)}]" if run.operator else ""
        out.print(f"{escape(run.script)} on {run.host}: {mark}: {escape(run.last_line)}{extra}")
        failed += run.exit_code != 0
    if failed:
        raise typer.Exit(1)
