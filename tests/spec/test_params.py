"""Per-student parameters: deterministic, independent, in range, unique where promised."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.spec import load_lab
from labctl.spec.params import derive, new_seed, wordlist

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = load_lab(REPO / "docs" / "examples" / "example-lab").spec
REPLAY = load_lab(REPO / "labs" / "tc-replay").spec


def test_same_inputs_same_values() -> None:
    assert derive(EXAMPLE, "ada", "s1").values == derive(EXAMPLE, "ada", "s1").values


def test_known_answer_keeps_regrades_reproducible_across_versions() -> None:
    # Pinned: changing the derivation would silently change every stored session's secrets.
    assert derive(REPLAY, "ada", "0" * 64).values == {
        "uplink_key": "cf0df0e25dee8870b8d719e102171ecd",
        "uplink_spi": 201,
        "spacecraft_id": 148,
        "ops_flag": "REPLAY{22ebce44861498c0}",
        "flight_password": "RfxuC9pz3ssL2kGE",  # added later: the others did not move
    }


def test_key_is_hmac_sha256_of_lab_student_and_name() -> None:
    block = b"tc-replay\0ada\0uplink_key\0" + (0).to_bytes(4, "big")
    expected = hmac.new(b"0" * 64, block, hashlib.sha256).digest()[:16].hex()
    assert derive(REPLAY, "ada", "0" * 64).values["uplink_key"] == expected


def test_students_and_seeds_change_every_secret() -> None:
    base = derive(EXAMPLE, "ada", "s1")
    other_student = derive(EXAMPLE, "grace", "s1")
    other_seed = derive(EXAMPLE, "ada", "s2")
    for name in ("uplink_key", "admin_password", "station_flag"):
        assert base.values[name] != other_student.values[name]
        assert base.values[name] != other_seed.values[name]


def test_types_and_formats() -> None:
    values = derive(EXAMPLE, "ada", new_seed()).values
    assert re.fullmatch(r"[0-9a-f]{32}", str(values["uplink_key"]))
    assert values["operator_password"] in wordlist("weak-passwords")
    assert re.fullmatch(r"[A-Za-z0-9]{20}", str(values["admin_password"]))
    assert re.fullmatch(r"STATION\{[0-9a-f]{16}\}", str(values["station_flag"]))
    assert isinstance(values["rogue_spi"], int)
    assert 16 <= values["rogue_spi"] <= 99
    assert values["pass_length"] in ("5m", "8m", "12m")


def test_public_and_secret_split() -> None:
    derived = derive(EXAMPLE, "ada", "s1")
    assert "pass_length" in derived.public()
    assert "uplink_key" not in derived.public()
    assert set(derived.secrets()) == {
        "uplink_key",
        "operator_password",
        "admin_password",
        "station_flag",
    }


def test_roster_slots_never_share_a_weak_password() -> None:
    seed = new_seed()
    passwords = [
        derive(EXAMPLE, f"s{i}", seed, slot=i).values["operator_password"] for i in range(35)
    ]
    assert len(set(passwords)) == 35


def test_wordlist_skips_comments() -> None:
    words = wordlist("weak-passwords")
    assert words
    assert not any(w.startswith("#") or not w for w in words)


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=40))
def test_int_ranges_stay_in_range_for_any_student_and_seed(student: str, seed: str) -> None:
    values = derive(REPLAY, student, seed).values
    assert 16 <= int(values["uplink_spi"]) <= 255
    assert 100 <= int(values["spacecraft_id"]) <= 900
