"""Over-the-air rekeying on the real engine, the way a flight director does it: through
mission control's API (octet arguments as hex), the ground station and the RF link to the
spacecraft: OTAR and activation of a new key, its verification (the spacecraft proves it
holds the key), a rekey of the stopped spare SA, its start,
all kept across a REBOOT; a forged OTAR (another master key) refused."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from live import eventually, mission_control_url, tc_replay_with, truth

from labctl.backends.docker import DockerBackend
from labctl.instances import Instances, InstanceStore
from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.scenario import parameters

pytestmark = pytest.mark.docker

MASTER = os.urandom(32)
INJECTS = (
    "  - kind: write_file\n"
    "    host: spacecraft\n"
    f'    args: {{path: /etc/labctl/keys/master.key, content: "{MASTER.hex()}\\n",'
    ' mode: "0600", owner: labctl}\n'
    "  - {kind: set_config, host: spacecraft, args: {file: /etc/labctl/spacecraft.yaml,"
    " key: sdls.master_key, value: {id: 1, key_file: /etc/labctl/keys/master.key}}}\n"
    "  - {kind: set_config, host: spacecraft, args: {file: /etc/labctl/spacecraft.yaml,"
    " key: sdls.associations.next, value: {spi: 300, direction: uplink, state: unkeyed}}}\n"
)


def sa(document: dict[str, Any], spi: int) -> dict[str, Any]:
    return next(s for s in document["security_associations"] if s["spi"] == spi)


def test_a_flight_director_rekeys_over_the_air_and_a_forged_otar_is_refused(
    lab_backend: DockerBackend, tmp_path: Path
) -> None:
    loaded = tc_replay_with(tmp_path, INJECTS)
    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = manager.up(loaded, f"otar{uuid.uuid4().hex[:8]}")
    try:
        password = parameters(loaded.spec, record.student, record.seed).values["flight_password"]
        director = MissionControl("student", password, mission_control_url(record))
        director.login()
        with pytest.raises(MissionControlError, match="KEY_OTAR"):
            director.otar(os.urandom(32), 1, 7, os.urandom(16))  # not the master key
        new_key = os.urandom(16)
        director.otar(MASTER, 1, 7, new_key)
        assert truth(lab_backend, record)["keys"] == [{"id": 7, "state": "active"}]
        # Key Verification: the spacecraft proves it holds the delivered key, no other
        assert director.verify_key(7, new_key)
        assert not director.verify_key(7, os.urandom(16))
        for name, args in (("SA_REKEY", {"spi": 300, "key_id": 7}), ("SA_START", {"spi": 300})):
            assert director.send(name, **args)["status"] == "completed", name
        after = sa(truth(lab_backend, record), 300)
        assert (after["state"], after["key_id"]) == ("OPERATIONAL", 7)
        assert director.send("SA_READ_ARSN", spi=300)["status"] == "completed"
        read = eventually(
            lambda: next(
                (r for r in director.sdls_replies() if r["procedure"] == "SA_READ_ARSN"), None
            ),
            15,
            "the Read ARSN reply at mission control",
        )
        assert (read["spi"], read["arsn"]) == (300, after["sequence_number"])
        booted = truth(lab_backend, record)["boot_time"]
        director.send("REBOOT")  # the reset may cut its own completion report short

        def rebooted() -> dict[str, Any] | None:
            document = truth(lab_backend, record)
            return document if document["boot_time"] != booted else None

        document = eventually(rebooted, 60, "the spacecraft back after its reboot")
        assert document["keys"] == [{"id": 7, "state": "active"}]
        kept = sa(document, 300)
        assert (kept["state"], kept["key_id"]) == ("OPERATIONAL", 7)
    finally:
        manager.down(record.id)
