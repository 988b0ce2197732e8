"""The spacecraft on loopback: sockets, timers, the truth file, floods; and with the rf-link."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from sc_scaffold import Ground, kinds, tm_packets

from labctl.range.hosts.config import Config
from labctl.range.hosts.rflink import RfLink, parse_config
from labctl.range.hosts.spacecraft import Spacecraft, SpacecraftConfig
from labctl.range.hosts.udp import open_udp

MakeConfig = Callable[..., SpacecraftConfig]


def rf_link_config(uplink_air: tuple[str, int], downlink_air: tuple[str, int], port: int) -> Config:
    return Config(
        {
            "uplink": {"host": "127.0.0.1", "port": 0, "air": [f"{uplink_air[0]}:{uplink_air[1]}"]},
            "downlink": {
                "host": "127.0.0.1",
                "port": port,
                "air": [f"{downlink_air[0]}:{downlink_air[1]}"],
            },
            "channel": {"delay_ms": 5, "seed": 1},
            "pcap": {"path": ""},
            "status_file": "",
        },
        "rf-link.yaml",
    )


def test_end_to_end_through_the_rf_link(
    make_config: MakeConfig, loopback: SimpleNamespace, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rf_downlink_port = loopback.free_udp_port()
        config = make_config(
            {
                "downlink": {"port": rf_downlink_port},
                "sdls": {"downlink_sa": "downlink"},
                "housekeeping": {"period": 0.1},
            }
        )
        spacecraft = Spacecraft(config)
        await spacecraft.start()
        ground_rx = await open_udp("127.0.0.1", 0)
        link = RfLink(
            parse_config(
                rf_link_config(spacecraft.uplink_address, ground_rx.address, rf_downlink_port)
            )
        )
        await link.start()
        ground = Ground()
        ground_tx = await open_udp("127.0.0.1", 0)
        try:
            ground_tx.send(ground.command("PAYLOAD_ON"), link.address("uplink"))
            frames = await loopback.collect(
                ground_rx,
                lambda got: {(1, 7), (3, 25)} <= set(kinds(tm_packets(got, ground.downlink))),
            )
            received = kinds(tm_packets(frames, ground.downlink))
            assert {(1, 1), (1, 7), (3, 25), (5, 1)} <= set(received)
            truth = spacecraft.truth()
            assert truth["payload_on"] is True
            assert truth["executed_commands"][-1]["name"] == "PAYLOAD_ON"
            assert await loopback.eventually(
                lambda: json.loads(config.truth_file.read_text())["payload_on"] is True
            )
        finally:
            for endpoint in (ground_rx, ground_tx):
                endpoint.close()
            await link.stop()
            await spacecraft.stop()

    loopback.run_async(scenario())


def test_truth_file_is_replaced_atomically(
    make_config: MakeConfig, loopback: SimpleNamespace
) -> None:
    async def scenario() -> None:
        config = make_config()
        spacecraft = Spacecraft(config)
        await spacecraft.start()
        sender = await open_udp("127.0.0.1", 0)
        ground = Ground()
        try:
            seen: set[str] = set()
            for seq in range(20):
                sender.send(ground.command("PING", seq=seq), spacecraft.uplink_address)
                await asyncio.sleep(0.005)
                document = json.loads(config.truth_file.read_text())  # never half a file
                seen.update(entry["name"] for entry in document["executed_commands"])
            assert await loopback.eventually(
                lambda: len(json.loads(config.truth_file.read_text())["executed_commands"]) == 20
            )
            assert seen == {"PING"}
            leftovers = [p.name for p in config.truth_file.parent.iterdir()]
            assert leftovers == ["truth.json"]
        finally:
            sender.close()
            await spacecraft.stop()

    loopback.run_async(scenario())


def test_flood_does_not_stop_nominal_commanding(
    make_config: MakeConfig, loopback: SimpleNamespace
) -> None:
    """Garbage, forgeries and replays at full speed, and one genuine command every 50 ms."""

    async def scenario() -> None:
        spacecraft = Spacecraft(make_config())
        await spacecraft.start()
        attacker = await open_udp("127.0.0.1", 0)
        operator = await open_udp("127.0.0.1", 0)
        ground, forger = Ground(), Ground(key=bytes(32))
        captured = ground.command("PING", seq=0)
        operator.send(captured, spacecraft.uplink_address)
        junk = [b"\x00" * 40, forger.command("SAFE_MODE"), captured, bytes(range(200))]
        target = spacecraft.uplink_address
        try:
            sent, start = 0, time.monotonic()
            for seq in range(1, 11):
                for _ in range(100):
                    attacker.send(junk[sent % len(junk)], target)
                    sent += 1
                operator.send(ground.command("PING", seq=seq), target)
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - start
            assert await loopback.eventually(
                lambda: spacecraft.truth()["counters"]["commands_executed"] == 11
            )
            counters = spacecraft.truth()["counters"]
            assert counters["rejected_by_reason"]["bad_sn"] >= 200
            assert spacecraft.truth()["mode"] == "NOMINAL"
            print(f"flood: {sent} hostile frames in {elapsed:.2f} s, 11/11 commands executed")
        finally:
            attacker.close()
            operator.close()
            await spacecraft.stop()

    loopback.run_async(scenario())


def test_reboot_resets_the_flight_software_in_place_with_the_stored_parameters(
    key_dir: Path, tmp_path: Path
) -> None:
    """REBOOT (8,1 fn 6) ends the running flight software after its completion report and
    starts it again in the same process from the configuration file plus the parameters
    stored by SET_PARAMETER; frames after the REBOOT in the same batch are not executed."""
    from test_parameters import WEAK, config_file

    from labctl.range.hosts.spacecraft.config import load_config

    async def scenario() -> None:
        path = config_file(tmp_path, key_dir, WEAK)
        spacecraft = Spacecraft(load_config(path))
        stop = asyncio.Event()
        serving = asyncio.create_task(spacecraft.serve(stop))
        await asyncio.sleep(0.2)
        sender = await open_udp("127.0.0.1", 0)
        ground = Ground()
        frames = [
            ground.command("SET_PARAMETER", 1, 1, seq=0),
            ground.command("REBOOT", seq=1),
            ground.command("PING", seq=2),  # after the REBOOT: never executed
        ]
        for frame in frames:
            sender.send(frame, spacecraft.uplink_address)
        deadline = time.monotonic() + 10
        while spacecraft.reboots == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert spacecraft.reboots == 1
        uplink = next(a for a in spacecraft.config.associations if a.name == "uplink")
        assert uplink.sa.window > 0  # the stored parameter is in use after the reset
        names = [e["name"] for e in spacecraft.truth()["executed_commands"]]
        assert names == ["SET_PARAMETER", "REBOOT"]
        assert spacecraft.truth()["farm"]["vr"] == 0
        stop.set()
        await serving
        sender.close()

    asyncio.run(scenario())
