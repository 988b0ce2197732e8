"""``labctl labs``: list, show and validate lab specifications."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import environment
from labctl.cli.params import argument
from labctl.core.labs import LabEntry
from labctl.errors import SpecError
from labctl.spec import Lab, LoadedLab
from labctl.spec.coverage import (
    CISM_DOMAINS,
    CISSP_DOMAINS,
    SPARTA_TACTIC_NAMES,
    Coverage,
    markdown_lab_table,
)

app = typer.Typer(help="List, inspect and validate labs.", no_args_is_help=True)


def _minutes(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes} min"


CoverageFormat = Literal["table", "html", "markdown"]


@app.command("list")
def list_labs(ctx: typer.Context) -> None:
    """List the labs in the labs folder."""
    env = environment(ctx)
    table = Table(title=f"Labs in {env.labs()}", title_justify="left")
    for column in ("id", "title", "difficulty", "mode", "time", "SPARTA", "CISSP", "points"):
        table.add_column(column, overflow="fold")
    invalid = 0
    for entry in env.core.labs.all():
        lab = entry.spec
        if lab is None:
            invalid += 1
            table.add_row(entry.path.name, f"[red]invalid: {len(entry.problems)} problem(s)[/]")
            continue
        table.add_row(
            lab.id,
            escape(lab.title),
            lab.difficulty.value,
            lab.mode.value,
            _minutes(lab.duration),
            ", ".join(lab.sparta.techniques),
            ", ".join(map(str, lab.cissp_domains)),
            str(lab.total_points),
        )
    env.out.print(table)
    if invalid:
        env.err.print(
            f"[yellow]{invalid} lab(s) are invalid; run 'labctl labs validate' for details[/]"
        )


@app.command()
def show(
    ctx: typer.Context,
    lab_id: Annotated[
        str,
        argument("ID", "Lab id, e.g. tc-replay.", give="a lab id (see labctl labs list)"),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the validated spec as JSON.")
    ] = False,
) -> None:
    """Show one lab: metadata, topology, parameters, weaknesses, objectives."""
    env = environment(ctx)
    loaded = env.core.labs.get(lab_id)
    if as_json:
        env.write(loaded.spec.model_dump_json(indent=2) + "\n")
        return
    _print_lab(env.out, loaded)


def _print_lab(out: Console, loaded: LoadedLab) -> None:
    lab = loaded.spec
    out.print(f"[bold]{escape(lab.title)}[/] ({lab.id})")
    out.print(escape(lab.summary.strip()))
    out.print(
        f"difficulty {lab.difficulty.value} · mode {lab.mode.value}"
        f" · about {_minutes(lab.duration)} · {lab.total_points} points"
    )
    out.print(
        f"SPARTA {', '.join(lab.sparta.techniques)}"
        f" · countermeasures {', '.join(lab.sparta.countermeasures) or '-'}"
        f" · CISSP domains {', '.join(map(str, lab.cissp_domains))}"
    )
    for table in _lab_tables(lab):
        if table.row_count:
            out.print(table)


def _lab_tables(lab: Lab) -> list[Table]:
    hosts = Table("host", "networks", title="Topology", title_justify="left")
    for host, networks in lab.hosts().items():
        hosts.add_row(host, ", ".join(sorted(n.value for n in networks)) or "-")
    params = Table("parameter", "type", "secret", "description", title="Per-student parameters")
    for name, param in lab.parameters.items():
        secret = "yes" if param.secret else "no"
        params.add_row(name, param.type, secret, escape(param.description))
    weak = Table("id", "component", "SPARTA", "CWE", "title", title="Injected weaknesses")
    for w in lab.weaknesses:
        weak.add_row(w.id, w.component, w.sparta, w.cwe, escape(w.title))
    objectives = Table("id", "kind", "points", "check", "hidden", title="Objectives")
    for o in lab.objectives:
        check = o.check.name if o.check else "(report)"
        objectives.add_row(o.id, o.kind.value, str(o.points), check, "yes" if o.hidden else "")
    return [hosts, params, weak, objectives]


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Lab folders, lab.yaml files, or folders of labs (default: the labs folder)."
        ),
    ] = None,
) -> None:
    """Check labs and report every problem as file:line:column: field.path: message."""
    env = environment(ctx)
    entries: list[LabEntry] = env.core.labs.validate(paths or [])
    if not entries:
        env.err.print("[yellow]no labs found (a lab is a folder with a lab.yaml)[/]")
        raise typer.Exit(1)
    problems = 0
    for entry in entries:
        if entry.loaded is None:
            problems += len(entry.problems)
            for problem in entry.problems:
                env.out.print(escape(str(problem)))
            continue
        env.out.print(f"[green]ok[/] {entry.loaded.id} ({escape(str(entry.path))})")
    if problems:
        env.err.print(f"[red]{problems} problem(s) in {len(entries)} lab(s)[/]")
        raise typer.Exit(SpecError.exit_code)


@app.command()
def coverage(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Lab folders or folders of labs (default: the labs folder)."),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="table (the terminal), html (a page) or markdown (the README's lab table).",
        ),
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead.")
    ] = None,
) -> None:
    """What the labs exercise: SPARTA tactics, techniques and countermeasures, the CISSP
    and CISM domains, and the quiz questions per domain."""
    env = environment(ctx)
    if output_format not in ("table", "html", "markdown"):
        raise typer.BadParameter(
            f"{output_format!r}: give table, html or markdown", param_hint="--format"
        )
    cov, invalid = env.core.labs.coverage(paths or [])
    for entry in invalid:
        env.err.print(
            f"[yellow]{escape(str(entry.path))}: left out, {len(entry.problems)} problem(s);"
            " run 'labctl labs validate'[/]"
        )
    if output_format == "table":
        if output is not None:
            raise typer.BadParameter(
                "the table is for the terminal: use --format html or markdown with -o",
                param_hint="--output",
            )
        for table in _coverage_tables(cov):
            env.out.print(table)
        env.out.print(cov.summary())
        return
    text = markdown_lab_table(cov) if output_format == "markdown" else _coverage_html(cov)
    if output is None:
        env.write(text)
        return
    output.write_text(text, encoding="utf-8")
    env.err.print(f"wrote {escape(str(output))}")


def _coverage_html(cov: Coverage) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    jinja = Environment(
        loader=PackageLoader("labctl.cli", "templates"), autoescape=select_autoescape(["html"])
    )
    return jinja.get_template("coverage.html").render(
        cov=cov,
        tactic_names=SPARTA_TACTIC_NAMES,
        cissp_names=CISSP_DOMAINS,
        cism_names=CISM_DOMAINS,
    )


def _coverage_tables(cov: Coverage) -> list[Table]:
    tactics = Table(title="SPARTA tactics", title_justify="left")
    tactics.add_column("tactic")
    tactics.add_column("labs: techniques", overflow="fold")
    for tactic, using in cov.tactics().items():
        cells = []
        for lab in cov.labs:
            mine = [t for t in lab.techniques if t.split("-", 1)[0] == tactic]
            if mine:
                cells.append(f"{lab.id}: {', '.join(mine)}")
        name = f"{tactic} {SPARTA_TACTIC_NAMES[tactic]}"
        tactics.add_row(name if using else f"[red]{name}[/]", "\n".join(cells) or "none")
    domains = Table(title="CISSP and CISM domains", title_justify="left")
    for column in ("domain", "labs", "quiz questions"):
        domains.add_column(column, overflow="fold")
    for domain, (using, questions) in cov.cissp().items():
        name = f"CISSP {domain} {CISSP_DOMAINS[domain]}"
        domains.add_row(name if using else f"[red]{name}[/]", ", ".join(using), str(questions))
    for domain, (using, questions) in cov.cism().items():
        name = f"CISM {domain} {CISM_DOMAINS[domain]}"
        domains.add_row(name if using else f"[red]{name}[/]", ", ".join(using), str(questions))
    cms = Table(title="SPARTA countermeasures", title_justify="left")
    cms.add_column("countermeasure")
    cms.add_column("labs", overflow="fold")
    for cm, using in cov.countermeasures().items():
        cms.add_row(cm, ", ".join(using))
    return [tactics, domains, cms]
