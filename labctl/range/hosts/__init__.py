"""The programs of the emulated ground segment, one subpackage per host.

Each is runnable in-process on loopback (fast tests) and inside its container
(``python -m labctl.range.hosts.<host>``): one code path, two ways to run it. The contract
between them (ports, packet service, configuration files, ground truth) is
docs/ground-segment.md.
"""
