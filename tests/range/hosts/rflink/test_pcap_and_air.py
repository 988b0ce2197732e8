"""The pcap writer (dissected by scapy, as students will) and the air destinations."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from labctl.range.hosts.rflink.air import AirError, air_destinations, resolve_broadcast
from labctl.range.hosts.rflink.pcap import PcapWriter, ipv4_checksum

FRAME = bytes.fromhex("0042041605c01810c00000082f08010000010212d88dde")
INTERFACES = {
    "lo": ipaddress.IPv4Interface("127.0.0.1/8"),
    "eth0": ipaddress.IPv4Interface("172.30.5.7/24"),
}


def test_pcap_records_dissect_as_ipv4_udp(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.utils import rdpcap

    path = tmp_path / "rf.pcap"
    writer = PcapWriter(path, 1_000_000)
    writer.record(1700000000.25, ("172.30.5.9", 40000), ("172.30.5.255", 5101), FRAME)
    writer.record(1700000001.0, ("172.30.5.2", 5102), ("172.30.5.255", 5103), FRAME[::-1])
    writer.close()
    packets = rdpcap(str(path))
    assert len(packets) == 2
    first = packets[0]
    assert (first[IP].src, first[IP].dst, first[UDP].dport) == ("172.30.5.9", "172.30.5.255", 5101)
    assert bytes(first[UDP].payload) == FRAME
    assert float(first.time) == pytest.approx(1700000000.25)
    assert ipv4_checksum(bytes(first[IP])[:20]) == 0  # the header checksum verifies


def test_pcap_rotates_at_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "rf.pcap"
    writer = PcapWriter(path, 4096)
    for i in range(200):
        writer.record(float(i), ("10.0.0.1", 1), ("10.0.0.2", 2), FRAME)
    writer.close()
    assert writer.rotations > 0
    assert path.stat().st_size <= 4096
    assert path.with_name("rf.pcap.1").stat().st_size <= 4096


def test_pcap_stops_at_max_bytes_without_rotation(tmp_path: Path) -> None:
    path = tmp_path / "rf.pcap"
    writer = PcapWriter(path, 4096, rotate=False)
    for i in range(200):
        writer.record(float(i), ("10.0.0.1", 1), ("10.0.0.2", 2), FRAME)
    writer.close()
    assert path.stat().st_size <= 4096
    assert writer.skipped == 200 - writer.records


def test_broadcast_of_the_listening_interface() -> None:
    assert resolve_broadcast("", "0.0.0.0", INTERFACES) == "172.30.5.255"
    assert resolve_broadcast("", "172.30.5.7", INTERFACES) == "172.30.5.255"
    assert resolve_broadcast("eth0", "0.0.0.0", INTERFACES) == "172.30.5.255"
    assert resolve_broadcast("172.30.5.20", "0.0.0.0", INTERFACES) == "172.30.5.255"
    assert resolve_broadcast("10.9.0.0/16", "0.0.0.0", INTERFACES) == "10.9.255.255"


@pytest.mark.parametrize(
    ("selector", "listen"), [("lo", "0.0.0.0"), ("", "10.1.1.1"), ("nonsense!", "0.0.0.0")]
)
def test_impossible_broadcasts_are_errors(selector: str, listen: str) -> None:
    with pytest.raises(AirError):
        resolve_broadcast(selector, listen, INTERFACES)


def test_air_destinations_mix_broadcast_and_unicast() -> None:
    destinations, broadcast = air_destinations(
        ["broadcast", "127.0.0.1", "127.0.0.1:6000"], 5101, "0.0.0.0", INTERFACES
    )
    assert [str(d) for d in destinations] == [
        "172.30.5.255:5101",
        "127.0.0.1:5101",
        "127.0.0.1:6000",
    ]
    assert broadcast
    with pytest.raises(AirError):
        air_destinations(["127.0.0.1:port"], 5101, "0.0.0.0", INTERFACES)


@pytest.mark.parametrize("rotate", [True, False])
def test_a_record_larger_than_the_whole_file_is_skipped_not_written(
    tmp_path: Path, rotate: bool
) -> None:
    # max_datagram allows 65507 octets, pcap.max_bytes 4096: such a datagram cannot fit
    path = tmp_path / "rf.pcap"
    writer = PcapWriter(path, 4096, rotate=rotate)
    writer.record(1.0, ("10.0.0.1", 1), ("10.0.0.2", 2), FRAME)
    writer.record(2.0, ("10.0.0.1", 1), ("10.0.0.2", 2), bytes(65507))
    writer.record(3.0, ("10.0.0.1", 1), ("10.0.0.2", 2), FRAME)
    writer.close()
    assert path.stat().st_size <= 4096
    assert not path.with_name("rf.pcap.1").exists()
    assert (writer.records, writer.skipped) == (2, 1)


def test_a_flood_far_past_the_bound_keeps_two_files_under_it(tmp_path: Path) -> None:
    path = tmp_path / "rf.pcap"
    writer = PcapWriter(path, 65536)
    for i in range(50_000):
        writer.record(float(i), ("10.0.0.1", 1), ("10.0.0.2", 2), bytes(1 + i % 2048))
    writer.close()
    assert writer.rotations > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rf.pcap", "rf.pcap.1"]
    assert path.stat().st_size <= 65536
    assert path.with_name("rf.pcap.1").stat().st_size <= 65536
