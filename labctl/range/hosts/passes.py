"""Contact windows from an orbit, as the hosts' configuration files give them.

The rf-link (``channel.passes.orbit``) delivers frames only during a pass; mission
control (``passes.orbit``) shows operators the pass under way and the next ones. Both
read the same block, so they agree on every pass with nothing shared but the clock
(:class:`labctl.range.orbit.PassSchedule`)::

    orbit:
      tle:                      # the spacecraft's two-line element set
        - "1 43013U 17073A   26338.50000000  .00000010  00000-0  10000-4 0  9992"
        - "2 43013  98.7200 300.0000 0001000  90.0000 270.0000 14.19500000 45000"
      station:
        {name: svalbard, latitude: 78.23, longitude: 15.41, altitude_m: 450, min_elevation: 5}
      time_scale: 6             # a 10-minute pass lasts 100 s on the wall clock
"""

from __future__ import annotations

from typing import Any, Final

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.orbit import Orbit, PassSchedule, Site

ORBIT_KEYS: Final = {"tle", "station", "time_scale"}
STATION_KEYS: Final = {"name", "latitude", "longitude", "altitude_m", "min_elevation"}


def orbit_schedule(cfg: Config, key: str) -> PassSchedule | None:
    """The schedule the ``key`` block describes (None when the file has none); any
    problem, including a malformed TLE, is one :class:`HostConfigError` naming the key."""
    if cfg.raw(key, None) is None:
        return None
    cfg.only(ORBIT_KEYS, key)
    cfg.only(STATION_KEYS, f"{key}.station")
    tle: Any = cfg.raw(f"{key}.tle", None)
    if not (isinstance(tle, list) and len(tle) == 2 and all(isinstance(x, str) for x in tle)):
        raise HostConfigError(
            cfg.file,
            cfg.dotted(f"{key}.tle"),
            "expected the TLE's two lines, a list of two strings",
        )
    scale = cfg.get(f"{key}.time_scale", float, 1.0)
    try:
        site = Site(
            cfg.get(f"{key}.station.name", str, "ground-station"),
            cfg.get(f"{key}.station.latitude", float),
            cfg.get(f"{key}.station.longitude", float),
            cfg.get(f"{key}.station.altitude_m", float, 0.0),
            cfg.get(f"{key}.station.min_elevation", float, 10.0),
        )
        return PassSchedule(Orbit(tle[0], tle[1]), site, scale)
    except ValueError as exc:
        raise HostConfigError(cfg.file, cfg.dotted(key), str(exc)) from None
