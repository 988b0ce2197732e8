"""DOWNLINK_ROUTE and the contingency path ``uplink.clear_routing``: a routing command in a
clear frame, accepted only when that path is open and only for routing commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sc_scaffold import BASELINE, DOWNLINK_KEY, UPLINK_KEY, Ground, merge

from labctl.protocols.tm_frame import TmFrame
from labctl.range.hosts.spacecraft import FlightSoftware
from labctl.range.hosts.spacecraft.config import load_config

PROTECTED = {"sdls": {"downlink_sa": "downlink"}}


def boot(tmp_path: Path, **uplink: Any) -> tuple[Path, FlightSoftware]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "uplink.key").write_text(UPLINK_KEY.hex() + "\n")
    (keys / "downlink.key").write_text(DOWNLINK_KEY.hex() + "\n")
    data = merge(BASELINE, {"state_dir": str(tmp_path / "state"), **PROTECTED})
    data["uplink"] = {**data["uplink"], **uplink}
    data["truth_file"] = str(tmp_path / "run" / "truth.json")
    path = tmp_path / "spacecraft.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, FlightSoftware(load_config(path))


def clear_bd(ground: Ground, *packets: bytes) -> bytes:
    return ground.frame(b"".join(packets), bypass=True, secure=False)


def route(fsw: FlightSoftware) -> tuple[int, str | None]:
    downlink = fsw.truth()["downlink"]
    return downlink["vcid"], downlink["sa"]


def data_vcids(fsw: FlightSoftware) -> set[int]:
    return {TmFrame.decode(f).vcid for f in fsw.pending_frames()} - {7}


def test_a_clear_routing_command_is_rejected_by_default(tmp_path: Path) -> None:
    _, fsw = boot(tmp_path)
    ground = Ground()
    reception = fsw.receive(clear_bd(ground, ground.packet("DOWNLINK_ROUTE", 5, 1)))
    assert reception.reason  # SDLS refused it
    assert route(fsw) == (0, "downlink")


def test_the_open_contingency_path_lets_a_clear_routing_command_move_the_telemetry(
    tmp_path: Path,
) -> None:
    _, fsw = boot(tmp_path, clear_routing=True)
    ground = Ground()
    fsw.receive(clear_bd(ground, ground.packet("DOWNLINK_ROUTE", 5, 1)))
    assert route(fsw) == (5, None)
    assert 5 in data_vcids(fsw)  # the completion report already went the new way
    entry = fsw.truth()["executed_commands"][-1]
    assert (entry["name"], entry["spi"], entry["result"]) == ("DOWNLINK_ROUTE", None, "completed")


@pytest.mark.parametrize("other", ["PING", "THRUSTER_FIRE"])
def test_the_contingency_path_takes_routing_commands_only(tmp_path: Path, other: str) -> None:
    _, fsw = boot(tmp_path, clear_routing=True)
    ground = Ground()
    args = (100,) if other == "THRUSTER_FIRE" else ()
    alone = fsw.receive(clear_bd(ground, ground.packet(other, *args)))
    assert alone.reason
    mixed = clear_bd(ground, ground.packet("DOWNLINK_ROUTE", 5, 1), ground.packet(other, *args))
    assert fsw.receive(mixed).reason
    assert fsw.truth()["executed_commands"] == []


def test_an_authenticated_route_restores_the_telemetry_and_a_reset_forgets_the_route(
    tmp_path: Path,
) -> None:
    path, fsw = boot(tmp_path, clear_routing=True)
    ground = Ground()
    fsw.receive(clear_bd(ground, ground.packet("DOWNLINK_ROUTE", 5, 1)))
    fsw.receive(ground.command("DOWNLINK_ROUTE", 0, 0, seq=0))
    assert route(fsw) == (0, "downlink")
    fsw.receive(clear_bd(ground, ground.packet("DOWNLINK_ROUTE", 3, 1)))
    assert route(fsw) == (3, None)
    assert route(FlightSoftware(load_config(path))) == (0, "downlink")


def test_bad_routes_fail(tmp_path: Path) -> None:
    _, fsw = boot(tmp_path)
    ground = Ground()
    for seq, (vcid, clear) in enumerate(((7, 0), (2, 2))):
        fsw.receive(ground.command("DOWNLINK_ROUTE", vcid, clear, seq=seq))
        assert fsw.truth()["executed_commands"][-1]["result"] == "failed: BAD_ARGUMENTS"
    assert route(fsw) == (0, "downlink")
