"""The grader vantage: a ``labctl-grader`` container inside one instance, for one grading run.

Created from the attacker image (UDP, HTTP and labctl's protocol layers), attached only to
the instance's rf and corp networks, and removed when the run ends, whatever happened. A
check that must observe from another network (a service bound to the ground network) gets
a vantage of its own there for one program (``LiveProbe.vantage_exec_on``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Final

from graders.checks.base import VANTAGE_NETWORKS
from labctl.backends.base import Backend
from labctl.backends.profiles import image_tag
from labctl.backends.vantage import RUN_LABEL
from labctl.errors import LabctlError
from labctl.range import wiring

GRADER_HOST: Final = wiring.GRADER
VANTAGE_ROLE: Final = "attacker"


@contextmanager
def vantage(
    backend: Backend,
    instance_id: str,
    run_id: str,
    host: str = GRADER_HOST,
    networks: Sequence[str] = VANTAGE_NETWORKS,
) -> Iterator[str]:
    """Run the vantage for the ``with`` block; yields its host name for ``Backend.exec``.
    It is created on the first of ``networks`` and connected to the others."""
    vantages = backend.vantages()
    first, *others = networks
    try:
        vantages.run_vantage(
            instance_id,
            host,
            image=image_tag(VANTAGE_ROLE),
            network=first,
            labels={RUN_LABEL: run_id},
        )
        for network in others:
            backend.connect(instance_id, host, network)
        yield host
    finally:
        with suppress(LabctlError):  # the error that brought us here is the one to report
            vantages.remove_vantage(instance_id, host)
