"""Passes from an orbit: when a spacecraft given by a two-line element set (TLE) is above a
ground station's horizon, computed with SGP4 (the ``sgp4`` package, Vallado's reference
implementation), and the time compression a lab uses to make a 10-minute pass last 2.

Frames: SGP4 gives TEME position; TEME → Earth-fixed by the Greenwich mean sidereal angle
(IAU 1982; polar motion and the equation of the equinoxes ignored: well under a
kilometre, far below what a contact window cares about); the station from WGS-84 geodetic
coordinates; elevation in the station's local east-north-up frame.

Everything reading a TLE treats it as hostile input: a malformed set is a ValueError that
says which line and why, never a propagation of garbage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sgp4.api import SGP4_ERRORS, WGS72, Satrec, jday  # type: ignore[import-untyped]

#: WGS-84 ellipsoid.
EARTH_A_KM: Final = 6378.137
EARTH_F: Final = 1 / 298.257223563
EARTH_E2: Final = EARTH_F * (2 - EARTH_F)
#: Coarse step of the pass search (simulated seconds); edges are then refined to 1 s.
SEARCH_STEP_S: Final = 20.0


@dataclass(frozen=True)
class Site:
    """A ground station's antenna: WGS-84 latitude/longitude (degrees), height (metres)."""

    name: str
    latitude: float
    longitude: float
    altitude_m: float = 0.0
    min_elevation: float = 10.0

    def __post_init__(self) -> None:
        if not -90 <= self.latitude <= 90:
            raise ValueError(f"{self.name}: latitude {self.latitude} is outside -90..90")
        if not -180 <= self.longitude <= 360:
            raise ValueError(f"{self.name}: longitude {self.longitude} is outside -180..360")
        if not -10 <= self.min_elevation < 90:
            raise ValueError(f"{self.name}: minimum elevation {self.min_elevation} is not a mask")

    def ecef_km(self) -> tuple[float, float, float]:
        lat, lon = math.radians(self.latitude), math.radians(self.longitude)
        h = self.altitude_m / 1000.0
        n = EARTH_A_KM / math.sqrt(1 - EARTH_E2 * math.sin(lat) ** 2)
        return (
            (n + h) * math.cos(lat) * math.cos(lon),
            (n + h) * math.cos(lat) * math.sin(lon),
            (n * (1 - EARTH_E2) + h) * math.sin(lat),
        )


@dataclass(frozen=True)
class Pass:
    """One contact: acquisition and loss of signal (UTC epoch seconds, simulated time)
    and the highest elevation reached (degrees)."""

    aos: float
    los: float
    max_elevation: float

    @property
    def duration(self) -> float:
        return self.los - self.aos


def _check_line(line: str, number: int) -> str:
    text = line.rstrip()
    if len(text) != 69 or not text.startswith(f"{number} "):
        raise ValueError(f"TLE line {number} must be 69 characters starting with '{number} '")
    digits = sum(int(c) for c in text[:68] if c.isdigit()) + text[:68].count("-")
    if not text[68].isdigit() or digits % 10 != int(text[68]):
        raise ValueError(f"TLE line {number}: the checksum (column 69) does not match")
    return text


def gmst_radians(jd_ut1: float) -> float:
    """Greenwich mean sidereal angle (IAU 1982), for a UT1 Julian date."""
    t = (jd_ut1 - 2451545.0) / 36525.0
    seconds = (
        67310.54841
        + (876600.0 * 3600.0 + 8640184.812866) * t
        + 0.093104 * t * t
        - 6.2e-6 * t * t * t
    )
    return math.radians((seconds % 86400.0) / 240.0) % (2 * math.pi)


class Orbit:
    """A spacecraft's orbit from its TLE."""

    def __init__(self, line1: str, line2: str) -> None:
        first, second = _check_line(line1, 1), _check_line(line2, 2)
        if first[2:7] != second[2:7]:
            raise ValueError("TLE lines 1 and 2 name different satellite numbers")
        self.satrec = Satrec.twoline2rv(first, second, WGS72)
        if self.satrec.error:
            raise ValueError(f"TLE rejected by SGP4: {SGP4_ERRORS[self.satrec.error]}")
        self.lines = (first, second)

    @property
    def epoch(self) -> float:
        """The TLE's epoch, UTC epoch seconds."""
        jd = float(self.satrec.jdsatepoch) + float(self.satrec.jdsatepochF)
        return (jd - 2440587.5) * 86400.0

    def ecef_km(self, t: float) -> tuple[float, float, float]:
        """Earth-fixed position at ``t`` (UTC epoch seconds)."""
        moment = datetime.fromtimestamp(t, UTC)
        jd, fr = jday(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second + moment.microsecond / 1e6,
        )
        error, r, _ = self.satrec.sgp4(jd, fr)
        if error:
            raise ValueError(f"SGP4 at {moment.isoformat()}: {SGP4_ERRORS[error]}")
        theta = gmst_radians(jd + fr)
        c, s = math.cos(theta), math.sin(theta)
        return (c * r[0] + s * r[1], -s * r[0] + c * r[1], r[2])

    def elevation(self, site: Site, t: float) -> float:
        """Elevation of the spacecraft above the site's horizon at ``t``, degrees."""
        x, y, z = self.ecef_km(t)
        sx, sy, sz = site.ecef_km()
        dx, dy, dz = x - sx, y - sy, z - sz
        lat, lon = math.radians(site.latitude), math.radians(site.longitude)
        up = (
            math.cos(lat) * math.cos(lon) * dx
            + math.cos(lat) * math.sin(lon) * dy
            + math.sin(lat) * dz
        )
        ratio = up / math.sqrt(dx * dx + dy * dy + dz * dz)
        return math.degrees(math.asin(max(-1.0, min(1.0, ratio))))

    def subpoint(self, t: float) -> tuple[float, float]:
        """Geodetic latitude and longitude (degrees) under the spacecraft at ``t``."""
        x, y, z = self.ecef_km(t)
        lon = math.atan2(y, x)
        p = math.hypot(x, y)
        lat = math.atan2(z, p * (1 - EARTH_E2))
        for _ in range(5):
            n = EARTH_A_KM / math.sqrt(1 - EARTH_E2 * math.sin(lat) ** 2)
            h = p / math.cos(lat) - n
            lat = math.atan2(z, p * (1 - EARTH_E2 * n / (n + h)))
        return math.degrees(lat), math.degrees(lon)

    def passes(self, site: Site, start: float, end: float) -> list[Pass]:
        """Every pass over ``site`` between ``start`` and ``end`` (a pass under way at
        ``start`` begins there)."""
        return list(self._passes(site, start, end))

    def _passes(self, site: Site, start: float, end: float) -> Iterator[Pass]:
        def above(t: float) -> bool:
            return self.elevation(site, t) >= site.min_elevation

        t, visible = start, above(start)
        aos = start if visible else None
        while t < end:
            step = min(SEARCH_STEP_S, end - t)
            nxt = t + step
            now_visible = above(nxt)
            if now_visible != visible:
                edge = self._edge(above, t, nxt, visible)
                if now_visible:
                    aos = edge
                elif aos is not None:
                    yield Pass(aos, edge, self._max_elevation(site, aos, edge))
                    aos = None
                visible = now_visible
            t = nxt
        if aos is not None:
            yield Pass(aos, end, self._max_elevation(site, aos, end))

    @staticmethod
    def _edge(above: Callable[[float], bool], lo: float, hi: float, was: bool) -> float:
        """The moment the visibility changes between ``lo`` and ``hi`` (to 1 s)."""
        while hi - lo > 1.0:
            mid = (lo + hi) / 2
            if above(mid) == was:
                lo = mid
            else:
                hi = mid
        return hi

    def _max_elevation(self, site: Site, aos: float, los: float) -> float:
        steps = max(2, int((los - aos) / 10.0))
        return max(self.elevation(site, aos + (los - aos) * i / steps) for i in range(steps + 1))


@dataclass(frozen=True)
class TimeScale:
    """Simulated time for a lab: ``sim = sim_epoch + (wall - wall_epoch) * scale``. Every
    host computes the same passes from the same configuration, at any moment."""

    wall_epoch: float
    sim_epoch: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1000:
            raise ValueError(f"time scale {self.scale} must be above 0 and at most 1000")

    def sim(self, wall: float) -> float:
        return self.sim_epoch + (wall - self.wall_epoch) * self.scale

    def wall(self, sim: float) -> float:
        return self.wall_epoch + (sim - self.sim_epoch) / self.scale


#: Simulated time repeats after one day: every host maps the wall clock to the same orbit
#: position without sharing a start time, and a day's passes are computed once.
CYCLE_S: Final = 86400.0


@dataclass(frozen=True)
class Contact:
    """One pass in wall-clock time (UTC epoch seconds), for the channel and the operators."""

    aos: float
    los: float
    max_elevation: float

    @property
    def duration(self) -> float:
        return self.los - self.aos


class PassSchedule:
    """When the spacecraft is above a ground station's mask, on the wall clock, with time
    compressed ``scale`` times: simulated time is the TLE's epoch plus ``wall * scale``
    modulo one day. So every host that reads the same configuration agrees on the passes
    at any moment, with nothing shared but the clock; a day's passes repeat every
    ``86400 / scale`` wall seconds (4.8 h at scale 5). The day's passes are computed once,
    at construction (about 4,000 SGP4 steps)."""

    def __init__(self, orbit: Orbit, site: Site, scale: float = 1.0) -> None:
        if not 0 < scale <= 1000:
            raise ValueError(f"time scale {scale} must be above 0 and at most 1000")
        self.orbit, self.site, self.scale = orbit, site, scale
        start = orbit.epoch
        # A pass cut by the day's end (or under way at its start) is kept for what is left
        # of it, unless less than a wall-clock second: no contact to speak of.
        self.day: tuple[Pass, ...] = tuple(
            Pass(p.aos - start, p.los - start, p.max_elevation)
            for p in orbit.passes(site, start, start + CYCLE_S)
            if p.los - p.aos >= scale
        )

    def sim(self, wall: float) -> float:
        """Simulated time (UTC epoch seconds) at wall-clock ``wall``."""
        return self.orbit.epoch + (wall * self.scale) % CYCLE_S

    def _contacts(self, cycle: int) -> Iterator[Contact]:
        base = cycle * CYCLE_S
        for p in self.day:
            yield Contact((base + p.aos) / self.scale, (base + p.los) / self.scale, p.max_elevation)

    def in_contact(self, wall: float) -> bool:
        offset = (wall * self.scale) % CYCLE_S
        return any(p.aos <= offset < p.los for p in self.day)

    def upcoming(self, wall: float, count: int = 3) -> list[Contact]:
        """The pass under way at ``wall`` (if any) and the next ones, at most ``count``."""
        if not self.day or count < 1:
            return []
        cycle = int((wall * self.scale) // CYCLE_S)
        found: list[Contact] = []
        while len(found) < count:
            found += [c for c in self._contacts(cycle) if c.los > wall][: count - len(found)]
            cycle += 1
        return found
