"""The spacecraft on the network: asyncio tasks around :class:`FlightSoftware`.

One process, one event loop: the uplink air socket (bounded queue, batches), a paced
downlink sender, housekeeping and Frame Security Report timers, and the ground-truth
writer. The truth file is rewritten atomically when something changed, at most every
``truth_interval`` seconds, and promptly after a command executed, so a flood cannot
thrash the disk while a grader still sees a command's effect within milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from labctl.protocols.tc_frame import TC_MAX_FRAME_SIZE
from labctl.range.hosts.config import HostConfigError, write_json_atomic
from labctl.range.hosts.ratelimit import RateLimitedLog
from labctl.range.hosts.spacecraft.config import SpacecraftConfig, load_config
from labctl.range.hosts.spacecraft.core import FlightSoftware
from labctl.range.hosts.spacecraft.state import Clock
from labctl.range.hosts.spacecraft.uplink import Outcome
from labctl.range.hosts.udp import Address, Destination, UdpEndpoint, open_udp

#: Seconds between two bursts of downlink frames: coalesces a flood's CLCW reports.
DOWNLINK_GAP: Final = 0.01
UPLINK_BATCH: Final = 64
#: Shortest time between two truth writes, even right after a command.
TRUTH_MIN_GAP: Final = 0.02
#: After a REBOOT telecommand, time for its completion report to go out before the reset.
REBOOT_DELAY: Final = 0.5

log = logging.getLogger(__name__)


class Spacecraft:
    """The spacecraft host program; ``truth()`` is the ground truth, in-process."""

    def __init__(
        self,
        config: SpacecraftConfig,
        *,
        clock: Clock = time.monotonic,
        wallclock: Clock = time.time,
    ) -> None:
        self.config = config
        self._clocks = (clock, wallclock)
        self.fsw = FlightSoftware(config, clock, wallclock)
        self.reboots = 0
        self._reboot = asyncio.Event()
        self.internal_errors = 0
        self.downlink_unresolved = 0
        self._rf_link = Destination(config.downlink.host, config.downlink.port)
        self._endpoint: UdpEndpoint | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._downlink_wake = asyncio.Event()
        self._truth_wake = asyncio.Event()
        self._last_truth = -math.inf
        #: The uplink air is open to anyone on the RF segment: rate-limited lines.
        self.hostile = RateLimitedLog(log)

    @property
    def uplink_address(self) -> Address:
        """Where the uplink air reaches this spacecraft (the bound address)."""
        assert self._endpoint is not None, "start() first"
        return self._endpoint.address

    def truth(self) -> dict[str, Any]:
        document = self.fsw.truth()
        document["uplink_socket"] = self._endpoint.counters.as_dict() if self._endpoint else {}
        document["internal_errors"] = self.internal_errors
        return document

    async def start(self) -> None:
        """Bind the uplink air socket and start every task."""
        up = self.config.uplink
        self._endpoint = await open_udp(
            up.host, up.port, queue_size=up.queue_size, max_datagram=TC_MAX_FRAME_SIZE
        )
        hk = self.config.housekeeping
        self._tasks = [
            asyncio.create_task(self._uplink_loop()),
            asyncio.create_task(self._downlink_loop()),
            asyncio.create_task(self._every(hk.period, self._housekeeping)),
            asyncio.create_task(self._every(self.config.downlink.fsr_period, self._send_fsr)),
            asyncio.create_task(self._truth_loop()),
        ]
        self._downlink_wake.set()  # the boot event
        self.write_truth()
        log.info("spacecraft %#x listening on %s:%d", self.config.scid, up.host, up.port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.fsw.save_sequences("downlink")
        self.write_truth()
        if self._endpoint is not None:
            self._endpoint.close()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; a REBOOT telecommand resets the flight software."""
        while True:
            await self.start()
            try:
                stopping = asyncio.ensure_future(stop.wait())
                rebooting = asyncio.ensure_future(self._reboot.wait())
                await asyncio.wait({stopping, rebooting}, return_when=asyncio.FIRST_COMPLETED)
                for waiting in (stopping, rebooting):
                    waiting.cancel()
                if not stop.is_set():
                    await asyncio.sleep(REBOOT_DELAY)  # the completion report goes out first
            finally:
                await self.stop()
            if stop.is_set():
                return
            self._reset()

    def _reset(self) -> None:
        """The on-board reset: the configuration read again with the stored parameters
        applied, FARM-1, SDLS, counters and mode as at power-on; the history kept."""
        self._reboot.clear()
        self.reboots += 1
        try:
            self.config = load_config(Path(self.config.file))
        except HostConfigError as exc:
            log.warning("reset: configuration not read again, the last one kept: %s", exc)
        self.fsw.hand_over_sequences(self.config)
        self.fsw = FlightSoftware(self.config, *self._clocks)
        self._rf_link = Destination(self.config.downlink.host, self.config.downlink.port)
        log.info("on-board reset %d done", self.reboots)

    def write_truth(self) -> None:
        """Atomically rewrite the truth file (and the sender's sequence numbers)."""
        self.fsw.dirty = self.fsw.executed = False
        self._last_truth = time.monotonic()
        try:
            write_json_atomic(self.config.truth_file, self.truth())
        except OSError as exc:
            self.fsw.state.counters.state_write_errors += 1
            log.warning("cannot write %s: %s", self.config.truth_file, exc)

    # -- tasks ----------------------------------------------------------------------------
    async def _uplink_loop(self) -> None:
        assert self._endpoint is not None
        while True:
            for datagram, _sender in await self._endpoint.receive_batch(UPLINK_BATCH):
                if self.fsw.reboot_requested:
                    break  # a reset is under way: nothing more is received before it
                self._guarded(self._receive, datagram)
            if self.fsw.reboot_requested:
                self._reboot.set()
                self._downlink_wake.set()  # the REBOOT's completion report goes out
                return
            self._downlink_wake.set()
            self._truth_wake.set()
            await asyncio.sleep(0)  # let timers and the downlink run during a flood

    async def _downlink_loop(self) -> None:
        while True:
            await self._downlink_wake.wait()
            self._downlink_wake.clear()
            for frame in self.fsw.pending_frames():
                self._transmit(frame)
            if self.fsw.framer.pending():
                self._downlink_wake.set()
            await asyncio.sleep(DOWNLINK_GAP)

    async def _every(self, period: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(period)
            self._guarded(action)

    async def _truth_loop(self) -> None:
        """Write when woken, no sooner than ``truth_interval`` after the last write, or
        ``TRUTH_MIN_GAP`` when a command executed. (No asyncio.wait_for here: on 3.11 it
        can swallow a cancellation, and stop() would wait forever.)"""
        while True:
            await self._truth_wake.wait()
            self._truth_wake.clear()
            gap = TRUTH_MIN_GAP if self.fsw.executed else self.config.truth_interval
            wait = self._last_truth + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.fsw.dirty:
                self.fsw.save_sequences("downlink")
                self.write_truth()

    # -- helpers --------------------------------------------------------------------------
    def _receive(self, datagram: bytes) -> None:
        reception = self.fsw.receive(datagram)
        if reception.outcome is Outcome.REJECTED:
            self.hostile.event(
                f"uplink: frames rejected ({reception.reason})",
                "uplink: frame rejected (%s, SPI %s)",
                reception.reason,
                reception.spi,
                level=logging.INFO,
            )

    def _housekeeping(self) -> None:
        self.hostile.flush()
        self.fsw.housekeeping()
        self._downlink_wake.set()
        self._truth_wake.set()  # the battery moved on

    def _send_fsr(self) -> None:
        self._transmit(self.fsw.fsr_frame())
        self._truth_wake.set()

    def _transmit(self, frame: bytes) -> None:
        address = self._rf_link.address()
        if address is None or self._endpoint is None:
            self.downlink_unresolved += 1
            return
        self._endpoint.send(frame, address)

    def _guarded(self, action: Callable[..., object], *args: object) -> None:
        """A bug must not make the spacecraft deaf: count it, log it, carry on."""
        try:
            action(*args)
        except Exception:
            self.internal_errors += 1
            self.hostile.event(
                "internal errors",
                "internal error (spacecraft keeps running)",
                level=logging.ERROR,
                exc_info=True,
            )
