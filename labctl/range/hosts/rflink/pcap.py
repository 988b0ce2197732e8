"""A bounded pcap writer for what goes on the air.

Classic libpcap format with LINKTYPE_RAW (101): every record is a synthetic IPv4 + UDP
header (RFC 791, RFC 768) around the transfer frame, carrying the real sender's address
and the air port (5101 uplink, 5103 downlink), so Wireshark, tshark and scapy dissect the
frames by port as students would capture them on the rf network. Written with struct
rather than scapy: importing scapy costs this process about 75 MiB and half a second.

The file never grows past ``max_bytes``: it is rotated (one previous file kept as
``<path>.1``) or, without rotation, writing stops and the skipped records are counted.
A record that could not fit even in an empty file is skipped and counted.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from pathlib import Path
from typing import BinaryIO, Final

PCAP_MAGIC: Final = 0xA1B2C3D4
PCAP_VERSION: Final = (2, 4)
LINKTYPE_RAW: Final = 101
SNAPLEN: Final = 65535
GLOBAL_HEADER: Final = struct.Struct("<IHHiIII")
RECORD_HEADER: Final = struct.Struct("<IIII")
IPV4_HEADER: Final = struct.Struct("!BBHHHBBH4s4s")
UDP_HEADER: Final = struct.Struct("!HHHH")
IP_UDP_SIZE: Final = IPV4_HEADER.size + UDP_HEADER.size
IPPROTO_UDP: Final = 17
TTL: Final = 64


def ipv4_checksum(header: bytes) -> int:
    """RFC 791 header checksum: one's complement of the one's complement sum."""
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _address(text: str) -> bytes:
    try:
        return ipaddress.IPv4Address(text).packed
    except ValueError:
        return bytes(4)


def ip_udp_packet(src: tuple[str, int], dst: tuple[str, int], payload: bytes, ident: int) -> bytes:
    """An IPv4/UDP datagram around ``payload`` (UDP checksum 0: none, allowed over IPv4)."""
    total = IP_UDP_SIZE + len(payload)
    fields = [0x45, 0, total, ident & 0xFFFF, 0x4000, TTL, IPPROTO_UDP, 0]
    addresses = (_address(src[0]), _address(dst[0]))
    header = IPV4_HEADER.pack(*fields, *addresses)
    fields[7] = ipv4_checksum(header)
    header = IPV4_HEADER.pack(*fields, *addresses)
    udp = UDP_HEADER.pack(src[1], dst[1], UDP_HEADER.size + len(payload), 0)
    return header + udp + payload


class PcapWriter:
    """Appends records to a pcap file; bounded by ``max_bytes`` (rotate or stop)."""

    def __init__(self, path: Path, max_bytes: int, rotate: bool = True) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.rotate = rotate
        self.records = 0
        self.skipped = 0
        self.rotations = 0
        self.errors = 0
        self._file: BinaryIO | None = None
        self._size = 0
        self._ident = 0
        self._stopped = False

    @property
    def size(self) -> int:
        return self._size

    def record(
        self, when: float, src: tuple[str, int], dst: tuple[str, int], payload: bytes
    ) -> None:
        """Write one datagram as seen on the air."""
        packet = ip_udp_packet(src, dst, payload, self._ident)
        self._ident += 1
        seconds = int(when)
        micros = int((when - seconds) * 1_000_000)
        data = RECORD_HEADER.pack(seconds, micros, len(packet), len(packet)) + packet
        try:
            self._write(data)
        except OSError:
            self.errors += 1
            self.close()
            self._stopped = True

    def _write(self, data: bytes) -> None:
        if self._stopped:
            self.skipped += 1
            return
        if GLOBAL_HEADER.size + len(data) > self.max_bytes:
            self.skipped += 1  # it fits in no file: rotating for it would break the bound
            return
        if self._file is None:
            self._open()
        if self._size + len(data) > self.max_bytes:
            if not self.rotate:
                self._stopped = True
                self.skipped += 1
                return
            self._rotate()
        assert self._file is not None
        self._file.write(data)
        self._file.flush()
        self._size += len(data)
        self.records += 1

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115 - kept open across records
        header = GLOBAL_HEADER.pack(PCAP_MAGIC, *PCAP_VERSION, 0, 0, SNAPLEN, LINKTYPE_RAW)
        self._file.write(header)
        self._size = len(header)

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self.rotations += 1
        self._open()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
