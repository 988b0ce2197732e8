"""Passes from a TLE (labctl.range.orbit): the geometry checked against itself where the
answer is known (the spacecraft straight overhead of its sub-satellite point, below the
horizon at the antipode), pass edges at the elevation mask, hostile TLEs refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.range.orbit import Orbit, PassSchedule, Site, TimeScale

ISS = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)
ORBIT = Orbit(*ISS)


def with_checksum(first68: str) -> str:
    total = sum(int(c) for c in first68 if c.isdigit()) + first68.count("-")
    return first68 + str(total % 10)


@given(st.floats(min_value=0, max_value=3 * 86400))
@settings(max_examples=40, deadline=None)
def test_the_spacecraft_is_overhead_at_its_subpoint_and_below_the_antipode(dt: float) -> None:
    t = ORBIT.epoch + dt
    lat, lon = ORBIT.subpoint(t)
    assert ORBIT.elevation(Site("under", lat, lon), t) == pytest.approx(90.0, abs=0.05)
    antipode = Site("antipode", -lat, lon - 180 if lon > 0 else lon + 180)
    assert ORBIT.elevation(antipode, t) < -80


def test_a_day_of_passes_over_a_mid_latitude_station() -> None:
    site = Site("toulouse", 43.6, 1.44, 150, min_elevation=10)
    passes = ORBIT.passes(site, ORBIT.epoch, ORBIT.epoch + 86400)
    assert 3 <= len(passes) <= 8  # a low orbit at 51.6° is seen a few times a day there
    for p in passes:
        assert 60 < p.duration < 15 * 60  # minutes, not hours
        assert site.min_elevation <= p.max_elevation <= 90
        if p.aos > ORBIT.epoch:  # edges sit on the mask, to the 1 s of the search
            assert ORBIT.elevation(site, p.aos) == pytest.approx(10, abs=0.5)
        assert ORBIT.elevation(site, p.los) == pytest.approx(10, abs=0.5)
        assert ORBIT.elevation(site, (p.aos + p.los) / 2) > 10
    gaps = [b.aos - a.los for a, b in itertools.pairwise(passes)]
    assert all(gap > 30 * 60 for gap in gaps)


def test_a_polar_station_never_sees_a_51_degree_orbit_high() -> None:
    assert (
        ORBIT.passes(Site("pole", 89.9, 0, min_elevation=10), ORBIT.epoch, ORBIT.epoch + 86400)
        == []
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((ISS[0][:-1] + "0", ISS[1]), "line 1: the checksum"),
        ((ISS[0], ISS[1][:60]), "line 2 must be 69 characters"),
        ((ISS[1], ISS[0]), "line 1 must be 69 characters starting with '1 '"),
        ((ISS[0], with_checksum("2 99999" + ISS[1][7:-1])), "different satellite numbers"),
    ],
)
def test_a_malformed_tle_is_refused_with_the_reason(lines: tuple[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Orbit(*lines)


def test_time_compression_maps_both_ways_and_refuses_nonsense() -> None:
    scale = TimeScale(wall_epoch=1_000.0, sim_epoch=ORBIT.epoch, scale=5)
    assert scale.sim(1_060.0) == ORBIT.epoch + 300
    assert scale.wall(scale.sim(1_234.5)) == pytest.approx(1_234.5)
    with pytest.raises(ValueError, match="time scale 0"):
        TimeScale(0, 0, 0)


POLAR = (
    "1 43013U 17073A   26338.50000000  .00000010  00000-0  10000-4 0  9992",
    "2 43013  98.7200 300.0000 0001000  90.0000 270.0000 14.19500000 45000",
)
SVALBARD = Site("svalbard", 78.23, 15.41, 450, 5)


def test_a_polar_orbit_passes_over_svalbard_every_orbit_compressed_six_times() -> None:
    schedule = PassSchedule(Orbit(*POLAR), SVALBARD, 6)
    assert 13 <= len(schedule.day) <= 15  # about every orbit of a 14.2-per-day orbit
    upcoming = schedule.upcoming(1_800_000_000.0, 5)
    assert len(upcoming) == 5
    gaps = [b.aos - a.aos for a, b in itertools.pairwise(upcoming)]
    assert all(5900 / 6 <= g <= 6300 / 6 for g in gaps), gaps  # one orbit, 6x faster
    assert all(60 <= c.duration <= 150 for c in upcoming)  # ~10-min passes, 6x shorter


@given(st.floats(min_value=1.6e9, max_value=2.0e9))
@settings(max_examples=60, deadline=None)
def test_in_contact_agrees_with_the_pass_list_at_any_moment(wall: float) -> None:
    schedule = SCHEDULE
    first = schedule.upcoming(wall, 1)[0]
    assert first.los > wall
    assert schedule.in_contact(wall) == (first.aos <= wall)
    assert schedule.in_contact(first.aos + 0.5)
    assert (
        not schedule.in_contact(first.los + 0.5)
        or schedule.upcoming(first.los + 0.5, 1)[0].aos <= first.los + 0.5
    )


def test_two_hosts_reading_the_same_block_agree_without_sharing_a_start() -> None:
    one = PassSchedule(Orbit(*POLAR), SVALBARD, 6)
    two = PassSchedule(Orbit(*POLAR), SVALBARD, 6)
    assert one.upcoming(1_900_000_000.0, 4) == two.upcoming(1_900_000_000.0, 4)
    with pytest.raises(ValueError, match="time scale"):
        PassSchedule(Orbit(*POLAR), SVALBARD, 0)
    assert PassSchedule(ORBIT, Site("pole", 89.9, 0.0, 0, 20), 6).upcoming(1.9e9, 3) == []


SCHEDULE = PassSchedule(Orbit(*POLAR), SVALBARD, 6)
