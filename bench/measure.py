"""What several benchmarks measure the same way: the machine's CPU time."""

from __future__ import annotations

import os


def machine_cpu_s() -> float:
    """CPU-seconds the whole machine has spent running since boot, all cores (Linux
    /proc/stat: user, nice, system, irq and softirq; not idle, iowait or steal); 0 where
    there is no /proc/stat. Differences of two readings are what the benchmarks print."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:8]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
