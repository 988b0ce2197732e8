"""``labctl k8s``: Kubernetes on paper. ``render`` writes the manifests a student's
instance would need (docs/kubernetes.md); no engine and no cluster is asked anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from labctl.cli.context import environment
from labctl.cli.params import SEED_MAX, LabArg, given, path_option
from labctl.instances.plan import SEED_LABEL

app = typer.Typer(
    help="Kubernetes on paper: the manifests an instance would need (no cluster needed).",
    no_args_is_help=True,
)


@app.command()
def render(
    ctx: typer.Context,
    lab_id: LabArg,
    student: Annotated[
        str,
        typer.Option(
            "--student",
            help="Whose instance (the namespace is labctl-<lab>-<student>).",
            callback=given("--student", "a name such as ana-lima"),
        ),
    ],
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            max=SEED_MAX,
            help="Seed of the per-student parameters (default: drawn).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        path_option(
            "--output",
            "-o",
            help="Write one file per kind into this folder (made if missing), numbered in"
            " the order to apply them; the Secrets' file is readable by you alone."
            " Default: one YAML stream on standard output.",
            folder=True,
        ),
    ] = None,
) -> None:
    """Render a student's instance of a lab as Kubernetes manifests: a namespace with Pod
    Security labels, NetworkPolicies (deny by default, one per lab network), quota and
    limits, Secrets, Services and one Pod per host. They carry the instance's secrets
    (the student's password, fresh keys): keep them as you keep labctl's state file."""
    env = environment(ctx)
    api = env.core.kubernetes
    rendered = api.render(lab_id, student, seed)
    if output is None:
        env.write(rendered.yaml())
        return
    written = api.write(rendered, output)
    plan = rendered.plan
    env.out.print(
        f"instance {plan.instance_id} (lab {plan.lab}, seed {plan.labels[SEED_LABEL]}):"
        f" {sum(w.count for w in written)} objects"
    )
    for item in written:
        env.out.print(f"  {escape(str(item.path))}  {item.count} {item.kind}")
