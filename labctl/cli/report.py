"""``labctl report``: write a student's report skeleton, grade a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders.report import ReportGrade, grade_report, read_report_file, render_template
from graders.report.secrets import peers_secrets, secrets_of
from labctl.cli.context import environment
from labctl.cli.params import MAX_SLOT, LabArg, given, given_all, path_option
from labctl.errors import LabctlError

app = typer.Typer(help="Write and grade audit reports.", no_args_is_help=True)

LabId = LabArg


@app.command()
def template(
    ctx: typer.Context,
    lab_id: LabId,
    output: Annotated[
        Path | None,
        path_option(
            "--output", "-o", help="Write to this file instead of standard output.", folder=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the report skeleton for a lab: YAML front matter for findings, prose sections."""
    env = environment(ctx)
    text = render_template(env.core.labs.get(lab_id).spec)
    if output is None:
        env.write(text)
        return
    if output.exists() and not force:
        raise LabctlError(f"{output} already exists; use --force to overwrite it")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LabctlError(f"cannot write {output}: {exc.strerror or exc}") from exc
    env.err.print(f"wrote {escape(str(output))}")


@app.command()
def grade(
    ctx: typer.Context,
    lab_id: LabId,
    report: Annotated[Path, typer.Argument(metavar="REPORT", help="The report (Markdown).")],
    *,
    student: Annotated[
        str,
        typer.Option(
            "--student",
            help="The student's id.",
            callback=given("--student", "the student's id (the instance's student)"),
        ),
    ],
    seed: Annotated[
        str,
        typer.Option(
            "--seed",
            envvar="LABCTL_SEED",
            help="The session seed the student's secrets came from.",
            callback=given("--seed", "the seed of the student's instance"),
        ),
    ],
    slot: Annotated[
        int | None,
        typer.Option("--slot", min=0, max=MAX_SLOT, help="The student's roster slot, if any."),
    ] = None,
    peers: Annotated[
        list[str] | None,
        typer.Option(
            "--peer",
            help="Another student of the session, to look for copied secrets (repeat).",
            callback=given_all("--peer", "a student id"),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
    instructor: Annotated[
        bool,
        typer.Option(
            "--instructor", help="Show the ground truth: matched and missed weaknesses, flags."
        ),
    ] = False,
) -> None:
    """Grade a report against the lab's injected weaknesses and its rubric."""
    env = environment(ctx)
    lab = env.core.labs.get(lab_id).spec
    own = secrets_of(lab, student, seed, slot)
    others = peers_secrets(lab, dict.fromkeys(peers or (), (seed, None)), student)
    result = grade_report(lab, read_report_file(report), own, others)
    if as_json:
        view = result.instructor_view() if instructor else result.student_view()
        env.write(json.dumps(view, indent=2) + "\n")
        return
    _print_grade(env.out, result, instructor)


def _print_grade(out: Console, result: ReportGrade, instructor: bool) -> None:
    objective = f" ({result.objective})" if result.objective else ""
    out.print(
        f"[bold]Report grade[/] {result.lab}{objective}:"
        f" [bold]{result.points:g}[/] / {result.points_possible} points"
    )
    out.print(_parts_table(result))
    out.print(
        f"{result.findings} finding(s): {len(result.matched)} matched,"
        f" {len(result.false_findings)} matching nothing,"
        f" {len(result.missed)} injected weakness(es) missed"
    )
    if instructor:
        _print_ground_truth(out, result)
    for line in result.feedback:
        out.print(f"  - {escape(line)}")


def _parts_table(result: ReportGrade) -> Table:
    table = Table("part", "weight", "score", "points", title="Rubric", title_justify="left")
    for part in result.parts:
        score = "n/a" if part.score is None else f"{part.score:.0%}"
        table.add_row(part.name, str(part.weight), score, f"{part.points:g}")
    return table


def _print_ground_truth(out: Console, result: ReportGrade) -> None:
    table = Table(
        "finding", "weakness", "match", "reasons", "CVSS (student / ref)", title="Matches"
    )
    for m in result.matched:
        cvss = f"{_num(m.severity_student)} / {_num(m.severity_reference)}"
        table.add_row(
            str(m.finding), m.weakness, f"{m.credit:.0%}", escape(", ".join(m.reasons)), cvss
        )
    if table.row_count:
        out.print(table)
    if result.missed:
        out.print(f"missed: {', '.join(result.missed)}")
    for flag in result.cheating:
        out.print(
            f"[bold red]copied secret:[/] {escape(flag.secret)} of student"
            f" {escape(flag.other_student)} in {escape(flag.where)}"
        )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
