"""The grader vantage: a ``labctl-grader`` container inside one instance, for one grading run.

Created from the attacker image (UDP, HTTP and labctl's protocol layers), attached only to
the instance's rf and corp networks, and removed when the run ends, whatever happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Final

from labctl.backends.base import Backend
from labctl.backends.profiles import image_tag
from labctl.backends.vantage import RUN_LABEL, vantages_for
from labctl.errors import LabctlError

GRADER_HOST: Final = "labctl-grader"
#: The first network is the one the vantage is created on; the others are connected.
VANTAGE_NETWORKS: Final = ("rf", "corp")
VANTAGE_ROLE: Final = "attacker"


@contextmanager
def vantage(backend: Backend, instance_id: str, run_id: str) -> Iterator[str]:
    """Run the vantage for the ``with`` block; yields its host name for ``Backend.exec``."""
    vantages = vantages_for(backend)
    first, *others = VANTAGE_NETWORKS
    try:
        vantages.run_vantage(
            instance_id,
            GRADER_HOST,
            image=image_tag(VANTAGE_ROLE),
            network=first,
            labels={RUN_LABEL: run_id},
        )
        for network in others:
            backend.connect(instance_id, GRADER_HOST, network)
        yield GRADER_HOST
    finally:
        with suppress(LabctlError):  # the error that brought us here is the one to report
            vantages.remove_vantage(instance_id, GRADER_HOST)
