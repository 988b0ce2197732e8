"""SDLS key management by telecommand (CCSDS 355.1-B-1 §3.3): a new key delivered over the
air under the master key, activated, given to a stopped SA (Rekey) and started; the old
SA retired; everything kept for the next boot; the material never in the ground truth;
forged or replayed OTARs refused."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from sc_scaffold import Ground, tm_packets
from test_parameters import booted, config_file
from test_procedures import failures, replies

from labctl.protocols.sdls_ep import CHALLENGE_SIZE, KeyProcedure, check_answer, decode, seal_otar
from labctl.range.hosts.catalog import BY_NAME, FailureCode, describe_reply
from labctl.range.hosts.spacecraft.keystore import KEYSTORE_FILE, KeyState, KeyStore

MASTER = bytes(range(32, 64))
NEW_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
SPARE = {
    "sdls": {
        "master_key": {"id": 100, "key_file": "keys/master.key"},
        "associations": {"next": {"spi": 3, "state": "unkeyed"}},
    }
}


def setup(tmp_path: Path, key_dir: Path) -> Path:
    (key_dir / "master.key").write_text(MASTER.hex() + "\n")
    return config_file(tmp_path, key_dir, SPARE)


def otar_args(key_id: int, key: bytes = NEW_KEY, master: bytes = MASTER) -> tuple[object, ...]:
    sealed = seal_otar(master, 100, key_id, key, os.urandom(12))
    return (100, sealed.iv, sealed.ciphertext, sealed.tag)


def test_a_key_delivered_over_the_air_rotates_the_uplink_and_survives_a_reboot(
    tmp_path: Path, key_dir: Path
) -> None:
    path = setup(tmp_path, key_dir)
    _, fsw = booted(path)
    old = Ground()
    steps = [
        ("KEY_OTAR", *otar_args(7)),
        ("KEY_ACTIVATE", 7),
        ("SA_REKEY", 3, 7),
        ("SA_START", 3),
    ]
    for seq, (name, *args) in enumerate(steps):
        fsw.receive(old.command(name, *args, seq=seq))  # type: ignore[arg-type]
    assert failures(fsw) == []
    new = Ground(spi=3, key=NEW_KEY)
    fsw.receive(new.command("PING", seq=4))
    last = fsw.truth()["executed_commands"][-1]
    assert (last["name"], last["spi"]) == ("PING", 3)  # under the new key
    fsw.receive(new.command("SA_STOP", 1, seq=5))
    fsw.receive(new.command("SA_EXPIRE", 1, seq=6))
    assert fsw.receive(old.command("PING", seq=7)).reason == "sa_not_operational"
    truth = fsw.truth()
    assert truth["keys"] == [{"id": 7, "state": "active"}]
    assert next(s for s in truth["security_associations"] if s["spi"] == 3)["key_id"] == 7
    assert NEW_KEY.hex() not in json.dumps(truth)  # the material never leaves the store
    events = [e["event"] for e in truth["events"]]
    assert events.count("KEY_CHANGED") == 2  # OTAR and activation
    stored = tmp_path / "state" / KEYSTORE_FILE
    assert stored.stat().st_mode & 0o777 == 0o600

    config, rebooted = booted(path)  # the next boot: key store and SA state kept
    assert next(a for a in config.associations if a.name == "next").store_key_id == 7
    again = Ground(spi=3, key=NEW_KEY)
    again.engine.associations[3].sequence_number = 10  # past the SN the spacecraft kept
    before = len(rebooted.truth()["executed_commands"])
    assert rebooted.receive(again.command("PING", seq=0)).outcome.name == "DATA"
    assert len(rebooted.truth()["executed_commands"]) == before + 1
    assert rebooted.receive(old.command("PING", seq=1)).reason == "sa_not_operational"


def test_an_otar_not_sealed_under_the_master_key_is_refused_and_stores_nothing(
    tmp_path: Path, key_dir: Path
) -> None:
    _, fsw = booted(setup(tmp_path, key_dir))
    ground = Ground()
    fsw.pending_frames()
    fsw.receive(ground.command("KEY_OTAR", *otar_args(7, master=bytes(32)), seq=0))  # type: ignore[arg-type]
    master_id, iv, ciphertext, tag = otar_args(8)
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]  # type: ignore[index]
    fsw.receive(ground.command("KEY_OTAR", master_id, iv, tampered, tag, seq=1))  # type: ignore[arg-type]
    fsw.receive(ground.command("KEY_OTAR", 99, iv, ciphertext, tag, seq=2))  # type: ignore[arg-type]
    assert failures(fsw) == [FailureCode.BAD_ARGUMENTS] * 3
    assert fsw.truth()["keys"] == []
    alarms = [e for e in fsw.truth()["events"] if e["event"] == "SECURITY_ALARM"]
    assert len(alarms) == 3


def test_the_key_life_cycle_is_enforced_and_the_inventory_reports_it(
    tmp_path: Path, key_dir: Path
) -> None:
    _, fsw = booted(setup(tmp_path, key_dir))
    ground = Ground()
    sequence = iter(range(100))

    def send(name: str, *args: object) -> None:
        fsw.receive(ground.command(name, *args, seq=next(sequence)))  # type: ignore[arg-type]

    send("KEY_OTAR", *otar_args(7))
    send("KEY_OTAR", *otar_args(8, key=bytes(16)))
    send("KEY_OTAR", *otar_args(7))  # an id already delivered: refused
    send("KEY_ACTIVATE", 7)
    send("SA_REKEY", 3, 8)  # key 8 is pre-active: refused
    send("SA_REKEY", 3, 7)
    send("KEY_DEACTIVATE", 7)  # in use by SA 3 (keyed): refused
    send("KEY_DESTROY", 8)  # pre-active: may be destroyed
    send("KEY_ACTIVATE", 8)  # destroyed: refused
    fsw.pending_frames()
    send("KEY_INVENTORY", 0, 0xFFFF)
    (reply,) = replies(tm_packets(fsw.pending_frames()))
    pdu = decode(reply)
    assert (pdu.reply, pdu.procedure) == (True, KeyProcedure.INVENTORY)
    count = struct.unpack_from(">H", pdu.data)[0]
    listed = [struct.unpack_from(">HB", pdu.data, 2 + 3 * i) for i in range(count)]
    assert listed == [(7, 2), (8, 4)]  # active, destroyed
    store = json.loads((tmp_path / "state" / KEYSTORE_FILE).read_text())
    assert store["keys"]["8"] == {"state": "destroyed", "key": None}
    assert failures(fsw) == []  # the inventory's own frames only; refusals were counted before


def test_refusals_are_reported_as_the_standard_says(tmp_path: Path, key_dir: Path) -> None:
    _, fsw = booted(setup(tmp_path, key_dir))
    ground = Ground()
    fsw.pending_frames()
    fsw.receive(ground.command("KEY_ACTIVATE", 5, seq=0))  # no such key
    fsw.receive(ground.command("SA_REKEY", 1, 5, seq=1))  # SA 1 is operational: stop it first
    assert failures(fsw) == [FailureCode.NOT_ALLOWED_IN_MODE, FailureCode.NOT_ALLOWED_IN_MODE]


def test_without_a_master_key_there_is_no_otar(tmp_path: Path, key_dir: Path) -> None:
    _, fsw = booted(config_file(tmp_path, key_dir, {}))
    fsw.pending_frames()
    fsw.receive(Ground().command("KEY_OTAR", *otar_args(7), seq=0))  # type: ignore[arg-type]
    assert failures(fsw) == [FailureCode.BAD_ARGUMENTS]


def test_a_corrupt_or_hostile_key_store_file_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / KEYSTORE_FILE).write_text("{not json")
    assert KeyStore.load(tmp_path).keys == {}
    hostile = {
        "keys": {
            "1": {"state": "active", "key": "00" * 5},  # not an AES key
            "70000": {"state": "active", "key": "00" * 16},  # not a 16-bit id
            "2": {"state": "bogus", "key": "00" * 16},
            "3": {"state": "active", "key": "11" * 16},
        }
    }
    (tmp_path / KEYSTORE_FILE).write_text(json.dumps(hostile))
    store = KeyStore.load(tmp_path)
    assert {i: k.state for i, k in store.keys.items()} == {3: KeyState.ACTIVE}


def test_the_catalogue_gives_octet_arguments_their_length() -> None:
    otar = BY_NAME["KEY_OTAR"]
    assert [otar.octets(a) for a in otar.arg_names] == [None, 12, 18, 16]
    assert BY_NAME["SA_REKEY"].octets("key_id") is None


def test_key_verification_proves_the_key_on_board_without_showing_it(
    tmp_path: Path, key_dir: Path
) -> None:
    _, fsw = booted(setup(tmp_path, key_dir))
    ground = Ground()
    sequence = iter(range(100))

    def send(name: str, *args: object) -> None:
        fsw.receive(ground.command(name, *args, seq=next(sequence)))  # type: ignore[arg-type]

    send("KEY_OTAR", *otar_args(7))
    send("KEY_ACTIVATE", 7)
    fsw.pending_frames()
    challenge = os.urandom(CHALLENGE_SIZE)
    send("KEY_VERIFY", 7, challenge)
    (reply,) = replies(tm_packets(fsw.pending_frames()))
    pdu = decode(reply)
    assert (pdu.reply, pdu.procedure) == (True, KeyProcedure.VERIFICATION)
    assert check_answer(pdu.data, NEW_KEY, 7, challenge)
    assert not check_answer(pdu.data, bytes(16), 7, challenge)  # another key on the ground
    assert not check_answer(pdu.data, NEW_KEY, 7, os.urandom(CHALLENGE_SIZE))  # an old answer
    assert challenge not in pdu.data
    assert NEW_KEY not in pdu.data
    assert describe_reply(reply)["key_id"] == 7

    send("KEY_VERIFY", 9, challenge)  # no such key: refused, no reply
    send("KEY_OTAR", *otar_args(8))
    send("KEY_VERIFY", 8, challenge)  # pre-active: refused
    packets = tm_packets(fsw.pending_frames())
    assert replies(packets) == []
    refused = [
        struct.unpack(">HHH", p.source_data)[2] for p in packets if (p.service, p.subtype) == (1, 8)
    ]
    assert refused == [FailureCode.BAD_ARGUMENTS] * 2
