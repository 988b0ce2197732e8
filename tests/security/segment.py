"""A whole ground segment in-process on 127.0.0.1, for the hostile-stream campaign.

The real programs, wired as in a lab instance: the spacecraft (SDLS AES-GCM uplink SA,
clear downlink), the rf-link (two relays, no noise jamming so a flood does not also
jam the check afterwards), the ground station (packet service, uplink with FOP-1, the
downlink), and mission control's ground link feeding its telemetry ingest and archive.
:meth:`Segment.round_trip` is a legitimate operator's command end to end: a PING goes
from mission control to the spacecraft and its 17,2 reply comes back into the archive's
counters. Nothing listens or sends anywhere but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from labctl.protocols.pus import PusTc
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.range.hosts.config import Config
from labctl.range.hosts.groundstation import GroundStation, settings_from_mapping
from labctl.range.hosts.missioncontrol.db import Archive
from labctl.range.hosts.missioncontrol.groundlink import GroundLink
from labctl.range.hosts.missioncontrol.ingest import Ingest
from labctl.range.hosts.rflink import RfLink
from labctl.range.hosts.rflink import parse_config as rf_config
from labctl.range.hosts.spacecraft import parse_config as sc_config
from labctl.range.hosts.spacecraft.service import Spacecraft

LOOPBACK = "127.0.0.1"
SCID = 0x42
UPLINK_KEY = bytes(range(32))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


async def eventually(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return bool(condition())


def resident_mib() -> float:
    """This process's resident set now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Segment:
    spacecraft: Spacecraft
    rflink: RfLink
    station: GroundStation
    link: GroundLink
    ingest: Ingest
    archive: Archive
    link_task: asyncio.Task[None]
    pings: int = field(default=0)

    @property
    def packet_service(self) -> tuple[str, int]:
        return self.station.packet_service_address

    def udp_services(self) -> dict[str, tuple[str, int]]:
        """Every UDP port of the segment that anyone on the rf network can reach."""
        return {
            "rf-link uplink in": self.rflink.address("uplink"),
            "rf-link downlink in": self.rflink.address("downlink"),
            "spacecraft uplink air": self.spacecraft.uplink_address,
            "ground-station downlink air": self.station.downlink_address,
        }

    async def round_trip(self, timeout: float = 8.0) -> bool:
        """A PING from mission control answered by the spacecraft, back in the ingest."""
        before = self.ingest.counts["tm_17_2"]
        self.pings += 1
        await self.link.send(PusTc(PLATFORM_APID, 17, 1, seq_count=self.pings).encode())
        return await eventually(lambda: self.ingest.counts["tm_17_2"] > before, timeout)

    def alive(self) -> list[str]:
        """What has stopped or failed inside the programs (empty when all is well)."""
        problems = []
        if self.spacecraft.internal_errors:
            problems.append(f"spacecraft internal errors: {self.spacecraft.internal_errors}")
        tasks = [
            *self.spacecraft._tasks,
            *self.rflink._tasks,
            self.station._task,
            self.link_task,
        ]
        for task in tasks:
            if task is None or task.done():
                problems.append(f"task stopped: {task}")
        return problems


def _keys(tmp: Path) -> Path:
    keys = tmp / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "uplink.key").write_text(UPLINK_KEY.hex() + "\n", encoding="ascii")
    os.chmod(keys / "uplink.key", 0o600)
    return keys / "uplink.key"


@contextlib.asynccontextmanager
async def running_segment(tmp: Path, partial_timeout: float = 0.5) -> AsyncIterator[Segment]:
    key = _keys(tmp)
    rf_up, rf_down = free_udp_port(), free_udp_port()
    spacecraft = Spacecraft(
        sc_config(
            Config(
                {
                    "scid": SCID,
                    "uplink": {"host": LOOPBACK, "port": 0},
                    "downlink": {"host": LOOPBACK, "port": rf_down},
                    "housekeeping": {"period": 1.0, "ops_message": "nominal"},
                    "sdls": {
                        "associations": {"uplink": {"spi": 1, "key_file": str(key)}},
                        "downlink_sa": "none",
                    },
                    "state_dir": str(tmp / "sc"),
                    "truth_file": str(tmp / "sc" / "truth.json"),
                    "truth_interval": 0.2,
                },
                "spacecraft.yaml",
            ),
            base=tmp,
        )
    )
    await spacecraft.start()
    station = GroundStation(
        settings_from_mapping(
            {
                "scid": SCID,
                "packet_service": {
                    "address": LOOPBACK,
                    "port": 0,
                    "max_clients": 4,
                    "partial_timeout": partial_timeout,
                },
                "uplink": {
                    "rf_link": {"address": LOOPBACK, "port": rf_up},
                    "bind_address": LOOPBACK,
                    "fop": {"window": 8, "timeout": 0.5, "transmission_limit": 5},
                    "sa": {"spi": 1, "key_file": str(key)},
                },
                "downlink": {"address": LOOPBACK, "port": 0, "sa": "none"},
                "status_interval": 1,
            }
        )
    )
    await station.start()
    up_air, down_air = spacecraft.uplink_address, station.downlink_address
    rflink = RfLink(
        rf_config(
            Config(
                {
                    "uplink": {"host": LOOPBACK, "port": rf_up, "air": [f"{LOOPBACK}:{up_air[1]}"]},
                    "downlink": {
                        "host": LOOPBACK,
                        "port": rf_down,
                        "air": [f"{LOOPBACK}:{down_air[1]}"],
                    },
                    "channel": {"jamming": {"noise_threshold": 0}},
                    "pcap": {"path": str(tmp / "rf.pcap"), "max_bytes": 1 << 20},
                },
                "rf-link.yaml",
            )
        )
    )
    await rflink.start()
    archive = Archive(tmp / "mc.db")
    ingest = Ingest(archive)
    host, port = station.packet_service_address
    link = GroundLink(host, port, ingest, (0.05, 0.5), idle_timeout=30)
    link_task = asyncio.create_task(link.run())
    segment = Segment(spacecraft, rflink, station, link, ingest, archive, link_task)
    try:
        assert await eventually(lambda: link.stats.connected), "mission control did not connect"
        yield segment
    finally:
        link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await link_task
        await rflink.stop()
        await station.stop()
        await spacecraft.stop()
        archive.close()
