"""The range: every program that runs inside a lab instance's containers.

- :mod:`labctl.range.hosts`: the emulated ground segment (spacecraft, rf-link, ground
  station, mission control), one subpackage per host;
- :mod:`labctl.range.adversary`: the scripted adversary, run from the attacker image;
- :mod:`labctl.range.vantage`: the grader's vantage programs (replay, forge, keyed
  frames, downlink listener, SSH probes, the agent that runs them);
- :mod:`labctl.range.yamledit`: the configuration editor that reference solutions use;
- :mod:`labctl.range.wiring`: host names, ports and in-image paths, the one place the
  host-side tool (plans, checks, solutions) and the range agree on them.

The range is installed into the lab images with labctl's wheel, so it imports only the
protocols, the spec and the error tree, never the host-side tool (no docker, typer or
rich): an import-linter contract keeps it so. Importing it starts nothing.
"""
