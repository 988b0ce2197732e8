"""The scenario engine: per-student parameters and the lab's injects on a live instance.

Sits between :mod:`labctl.instances` (which calls it during ``up``: file injects before
the hosts' first start, the others once they are healthy) and the backends and
spec below it. Each inject kind is one :class:`Applier` class, published through the
``labctl.injects`` entry point and looked up in the spec's vocabulary.
"""

from labctl.scenario.appliers import BUILTIN_INJECTS, Applier
from labctl.scenario.briefing import render_briefing
from labctl.scenario.context import InjectContext, InjectError, InjectLog
from labctl.scenario.engine import (
    InjectFailed,
    PlacedInject,
    applier_of,
    apply_file_injects,
    apply_injects,
    apply_live_injects,
    grader_injects,
    lab_injects,
    parameters,
    phase_injects,
    variables,
)
from labctl.scenario.render import RenderError, render, render_text

__all__ = [
    "BUILTIN_INJECTS",
    "Applier",
    "InjectContext",
    "InjectError",
    "InjectFailed",
    "InjectLog",
    "PlacedInject",
    "RenderError",
    "applier_of",
    "apply_file_injects",
    "apply_injects",
    "apply_live_injects",
    "grader_injects",
    "lab_injects",
    "parameters",
    "phase_injects",
    "render",
    "render_briefing",
    "render_text",
    "variables",
]
