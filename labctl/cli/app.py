"""The ``labctl`` command: option parsing and the one place errors become exit statuses."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from typer._click.exceptions import UsageError  # typer vendors click; no public name
from typer.core import TyperGroup

from labctl import __version__
from labctl.cli import (
    adversary,
    grade,
    images,
    instances,
    kubernetes,
    labs,
    leases,
    nodes,
    phase,
    portal,
    quiz,
    report,
    scenario,
    selftest,
)
from labctl.cli import session as session_cli
from labctl.cli.context import Environment, environment
from labctl.cli.params import path_parser
from labctl.errors import LabctlError

if TYPE_CHECKING:  # typer vendors click; its Context base class is only needed for typing
    from typer._click.core import Context as BaseContext

#: Exit status for a bug in labctl itself (EX_SOFTWARE).
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class LabctlGroup(TyperGroup):
    """Maps every error to one clear line and an exit status; --debug shows tracebacks."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: BaseContext | None = None,
        **extra: Any,
    ) -> BaseContext:
        """The root's own options (parsed before :meth:`invoke`): errors as one line too."""
        env = extra.get("obj")
        if not isinstance(env, Environment):
            env = extra["obj"] = Environment()
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError" or env.environ.get("LABCTL_DEBUG") == "1":
                raise
            _usage_line(env, exc, info_name or "labctl")
        except LabctlError as exc:
            _error_lines(env, exc)
            raise typer.Exit(exc.exit_code) from None

    def invoke(self, ctx: BaseContext) -> Any:
        env = _environment(ctx)
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if _debug(env) or type(exc).__name__ == "NoArgsIsHelpError":
                raise
            _usage_line(env, exc, ctx.command_path)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except LabctlError as exc:
            if _debug(env):
                raise
            _error_lines(env, exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            env.err.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if _debug(env):
                raise
            env.err.print(
                f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}"
                " (this is a bug in labctl; run again with --debug for the traceback)"
            )
            raise typer.Exit(EXIT_INTERNAL) from None


def _usage_line(env: Environment, exc: UsageError, where: str) -> NoReturn:
    """A usage error as one line that says where to look; exit status 2."""
    where = exc.ctx.command_path if exc.ctx is not None else where
    message = " ".join(exc.format_message().split())
    env.err.print(f"[bold red]error:[/] {escape(message)} (see: {escape(where)} -h)")
    raise typer.Exit(exc.exit_code) from None


def _error_lines(env: Environment, exc: LabctlError) -> None:
    for line in exc.one_line().splitlines():
        env.err.print(f"[bold red]error:[/] {escape(line)}")


def _environment(ctx: BaseContext) -> Environment:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Environment) else Environment()


def _debug(env: Environment) -> bool:
    return env.debug or env.environ.get("LABCTL_DEBUG") == "1"


app = typer.Typer(
    cls=LabctlGroup,
    name="labctl",
    help="A cyber range for the ground segment of space systems.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(labs.app, name="labs")
app.add_typer(report.app, name="report")
app.add_typer(images.app, name="images")
app.add_typer(adversary.app, name="adversary")
app.add_typer(phase.app, name="phase")
app.add_typer(portal.app, name="portal")
app.add_typer(session_cli.app, name="session")
app.add_typer(kubernetes.app, name="k8s")
for command in (
    instances.up,
    instances.down,
    instances.status,
    instances.shell,
    instances.restart,
    instances.logs,
):
    app.command()(command)
app.command()(leases.renew)
app.command()(leases.suspend)
app.command()(leases.resume)
app.command()(leases.gc)
app.command()(scenario.briefing)
app.command()(quiz.quiz)
app.command()(portal.serve)
app.command()(selftest.selftest)
app.command()(grade.grade)
app.command()(grade.check)
app.command()(grade.solve)
app.command()(nodes.nodes)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        environment(ctx).out.print(f"labctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    labs_dir: Annotated[
        Path | None,
        typer.Option(
            "--labs-dir",
            envvar="LABCTL_LABS_DIR",
            help="Folder of labs (default: ./labs, else the one shipped with labctl).",
            parser=path_parser("--labs-dir", folder=True),
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A cyber range for the ground segment of space systems."""
    env = environment(ctx)
    env.debug = debug
    env.labs_dir = labs_dir


class SchemaKind(StrEnum):
    LAB = "lab"
    CONFIG = "config"


@app.command()
def schema(
    ctx: typer.Context,
    what: Annotated[
        SchemaKind,
        typer.Argument(
            help="lab: the JSON Schema of lab.yaml; config: every host's configuration keys"
            " (Markdown, the reference in docs/ground-segment.md)."
        ),
    ] = SchemaKind.LAB,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file instead of standard output (config: a file with the"
            " reference's markers, such as docs/ground-segment.md, gets only that part"
            " replaced).",
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of lab.yaml, for editor completion and validation; or, with
    `config`, the keys of every host's configuration file (what set_config may set)."""
    if what is SchemaKind.CONFIG:
        text = _config_reference().rstrip("\n")
        if output is not None and output.is_file():
            from labctl.range.configfiles import with_reference

            spliced = with_reference(output.read_text(encoding="utf-8"), text)
            text = spliced.rstrip("\n") if spliced is not None else text
    else:
        from labctl.spec.schema import lab_json_schema
        from labctl.spec.vocabulary import default_vocabulary

        text = json.dumps(lab_json_schema(default_vocabulary()), indent=2, sort_keys=False)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise LabctlError(f"cannot write {output}: {exc.strerror or exc}") from exc
    environment(ctx).err.print(f"wrote {escape(str(output))}")


def _config_reference() -> str:
    from labctl.range.configfiles import config_reference
    from labctl.scenario.validate import SOURCE_TREE

    if not (SOURCE_TREE / "containers").is_dir():
        raise LabctlError(
            f"the hosts' configuration files are not in {SOURCE_TREE}/containers/:"
            " run labctl from a source checkout"
        )
    return config_reference(SOURCE_TREE)


def main() -> None:
    """Console-script entry point."""
    app()
