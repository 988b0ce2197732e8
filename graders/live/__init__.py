"""Grading a live instance: the grader vantage, the live Probe, objectives, ``selftest``.

Sits between :mod:`labctl.instances` (above) and :mod:`labctl.scenario`; it drives the
backends and runs the :mod:`graders` checks, which reason only over what the
:class:`~graders.live.probe.LiveProbe` observes. Importing it starts nothing.
"""
