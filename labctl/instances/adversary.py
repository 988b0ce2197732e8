"""The scripted adversary's container: started by ``up`` when a lab has an ``adversary:``.

The timeline's arguments are rendered with the instance's variables (a stolen password may
be ``"{{ params.op_password }}"``), checked with the adversary's own parser (a bad value is
an error at ``up``, naming the step, not a silent container exit), and handed to the
container as JSON in an environment variable, which it writes to its timeline file before
it runs ``python3 -m labctl.range.adversary run``. The container is a vantage (see
:mod:`labctl.backends.vantage`): from the attacker image, on the instance's rf and corp
networks, confined like the grader's, labelled with the instance so ``down`` removes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any, Final

from labctl.backends.base import Backend
from labctl.backends.profiles import image_tag
from labctl.errors import LabctlError, NotFoundError
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH, TIMELINE_ENV, TIMELINE_PATH
from labctl.range.adversary.logfile import parse_log
from labctl.range.adversary.timeline import TimelineError, parse_timeline
from labctl.scenario import render
from labctl.spec.models import AdversaryStep

#: The networks the adversary needs: the air (rf) and the corporate side (corp).
ADVERSARY_NETWORKS: Final = ("rf", "corp")
ADVERSARY_ROLE: Final = "adversary"
IMAGE_ROLE: Final = "attacker"
#: A host on each network: the adversary waits until its names resolve before it starts.
NETWORK_HOSTS: Final = {"rf": "rf-link", "corp": "mission-control"}
#: Label on the adversary's container (the vantage machinery adds instance and host).
ADVERSARY_LABEL: Final = "org.labctl.adversary"
COMMAND: Final = (
    "python3",
    "-m",
    "labctl.range.adversary",
    "run",
    "--from-env",
    "--timeline",
    TIMELINE_PATH,
    "--log",
    LOG_PATH,
)


class AdversaryError(LabctlError):
    """The lab's adversary timeline cannot be started on this instance."""


def render_timeline(steps: Sequence[AdversaryStep], variables: Mapping[str, Any]) -> str:
    """The timeline document (JSON) with every step's arguments rendered and checked."""
    rendered = []
    for i, step in enumerate(steps):
        document = step.model_dump(mode="json", exclude_none=True)
        try:
            document["args"] = render(step.args, variables)
        except LabctlError as exc:
            raise AdversaryError(f"adversary[{i}] ({step.action}): {exc}") from None
        rendered.append(document)
    text = json.dumps({"steps": rendered}, default=str)
    try:
        parse_timeline(text)
    except TimelineError as exc:
        raise AdversaryError(f"{exc} (after rendering the arguments)") from None
    return text


def start_adversary(
    backend: Backend, instance_id: str, timeline: str, networks: Sequence[str]
) -> list[str]:
    """Run the adversary container on those of its networks the instance has; returns them."""
    wanted = [n for n in ADVERSARY_NETWORKS if n in networks]
    if not wanted:
        raise AdversaryError(f"the instance has none of the networks {ADVERSARY_NETWORKS}")
    vantages = backend.vantages()
    first, *others = wanted
    vantages.run_vantage(
        instance_id,
        ADVERSARY_HOST,
        image=image_tag(IMAGE_ROLE),
        network=first,
        labels={ADVERSARY_LABEL: "timeline"},
        command=[*COMMAND, *(f"--wait-for={NETWORK_HOSTS[n]}" for n in wanted)],
        environment={TIMELINE_ENV: timeline},
        role=ADVERSARY_ROLE,
    )
    try:
        for network in others:
            backend.connect(instance_id, ADVERSARY_HOST, network)
    except BaseException:
        with suppress(LabctlError):
            vantages.remove_vantage(instance_id, ADVERSARY_HOST)
        raise
    return wanted


def adversary_log(backend: Backend, instance_id: str) -> list[dict[str, Any]]:
    """Every action the instance's scripted adversary ran, in order, as its log says
    (``[]`` before it ran any); the one place the log is read."""
    try:
        result = backend.exec(instance_id, ADVERSARY_HOST, ["cat", LOG_PATH])
    except NotFoundError:
        raise LabctlError(
            f"instance {instance_id!r} has no scripted adversary (is it up? does its lab have "
            "an adversary: timeline?)"
        ) from None
    return parse_log(result.output) if result.exit_code == 0 else []
