"""A fake ground station for the mission-control tests, on 127.0.0.1 only.

It serves the packet service: decodes the telecommands it receives (PusTc), answers
with verification reports (1,1 then 1,7, or a failure), sends housekeeping periodically,
and lets a test push arbitrary octets (garbage, events, status packets) down the stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.stream import packet_stream
from labctl.range.hosts import catalog
from labctl.range.hosts.groundstation.conventions import Alert, StationStatus, UplinkMode


@dataclass
class FakeGroundStation:
    hk_period: float = 0.05
    #: command name -> (subtype, code): answer that command with a failure report.
    failures: dict[str, tuple[int, int]] = field(default_factory=dict)
    ops_message: str = "nominal ops"
    send_status: bool = True  # a ground-station status packet with each housekeeping one
    received: list[PusTc] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tm_count: int = 0
    _executed: int = 0

    # --- thread-side control ----------------------------------------------------------

    def start(self) -> FakeGroundStation:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("fake ground station did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(5)

    def push(self, data: bytes) -> None:
        """Send octets to every connected client (from any thread)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._broadcast, data)

    def drop_clients(self) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._close_all)

    def tm(
        self, service: int, subtype: int, data: bytes, apid: int = catalog.PLATFORM_APID
    ) -> bytes:
        self._tm_count += 1
        now = CdsShortTime.from_datetime(dt.datetime.now(dt.UTC)).encode()
        return PusTm(apid, service, subtype, data, self._tm_count & 0x3FFF, time=now).encode()

    # --- event loop side ----------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main(ready))
        self._loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        hk = asyncio.create_task(self._housekeeping())
        await self._stopping.wait()
        hk.cancel()
        self._close_all()
        server.close()

    def _broadcast(self, data: bytes) -> None:
        for writer in list(self._writers):
            if not writer.is_closing():
                writer.write(data)

    def _close_all(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _housekeeping(self) -> None:
        while True:
            hk = catalog.Housekeeping(
                catalog.Mode.NOMINAL, 87, True, self._executed, 0, 0, self.ops_message
            )
            self._broadcast(self.tm(3, 25, hk.encode()))
            if not self.send_status:
                await asyncio.sleep(self.hk_period)
                continue
            status = StationStatus(UplinkMode.AD, 0, Alert.NONE, len(self.received), 0, 1, 0, 0, 1,
                                   *([len(self.received)] * 2 + [0] * 7))  # fmt: skip
            self._broadcast(self.tm(3, 25, status.encode(), catalog.GROUND_STATION_APID))
            await asyncio.sleep(self.hk_period)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        scanner = packet_stream(check_pec=True)
        try:
            while chunk := await reader.read(4096):
                packets, _ = scanner.feed(chunk)
                for packet in packets:
                    self._telecommand(packet.encode(), writer)
        except (ConnectionError, OSError):
            pass

    def _telecommand(self, raw: bytes, writer: asyncio.StreamWriter) -> None:
        tc = PusTc.decode(raw)
        self.received.append(tc)
        if tc.apid == catalog.GROUND_STATION_APID:
            return  # a directive to the station itself: no verification reports
        packet_id, seq_control = struct.unpack(">HH", raw[:4])
        command, _ = catalog.command_for(tc.service, tc.subtype, tc.app_data)
        report = [self.tm(1, 1, catalog.verification_data(packet_id, seq_control))]
        if command.name in self.failures:
            subtype, code = self.failures[command.name]
            report.append(
                self.tm(1, subtype, catalog.verification_data(packet_id, seq_control, code))
            )
        else:
            self._executed += 1
            report.append(self.tm(1, 7, catalog.verification_data(packet_id, seq_control)))
        writer.write(b"".join(report))


def wait_until(condition: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``condition`` until it is truthy; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
