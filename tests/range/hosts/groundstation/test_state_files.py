"""The ground station's state files are replaced, never grown: a long uplink leaves one
sequence-number file and one status file of a fixed size, and no temporary files."""

from __future__ import annotations

from pathlib import Path

from labctl.protocols.sdls import SecurityAssociation, save_sequence_numbers
from labctl.range.hosts.config import write_json_atomic


def test_the_sequence_file_is_rewritten_in_place_for_every_frame(tmp_path: Path) -> None:
    folder = tmp_path / "ground-station"
    sa = SecurityAssociation(1)
    for number in range(2**32 - 2000, 2**32):
        sa.sequence_number = number
        save_sequence_numbers(folder / "uplink-sn.json", [sa])
    assert [p.name for p in folder.iterdir()] == ["uplink-sn.json"]
    assert (folder / "uplink-sn.json").stat().st_size < 64


def test_the_status_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ground-station-status.json"
    for n in range(5000):
        write_json_atomic(path, {"counters": {"frames_sent": n}, "clients": ["10.0.0.1"] * 4})
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert path.stat().st_size < 4096
