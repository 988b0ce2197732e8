"""Fuzzing mission control's telemetry ingest (the tm-ingest lab's strict decoder).

Every downlinked octet is hostile: whatever packet arrives, the default ingest counts and drops
what it cannot decode and keeps processing; only the lab's ``telemetry.on_bad_packet: halt``
stops, and then at the first rejected packet.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.protocols.pus import PusTm
from labctl.protocols.spacepacket import SpacePacket
from labctl.range.hosts import catalog
from labctl.range.hosts.missioncontrol.db import Archive
from labctl.range.hosts.missioncontrol.ingest import Ingest
from tests.protocols.protocol_strategies import space_packets, u

#: PUS TM on our APIDs, with the services ingest routes and random ones, and random contents.
our_tms = st.builds(
    PusTm,
    apid=st.sampled_from([catalog.PLATFORM_APID, catalog.GROUND_STATION_APID]),
    service=st.one_of(st.sampled_from([1, 3, 5, 20, catalog.SDLS_EP_SERVICE]), u(8)),
    subtype=st.one_of(st.sampled_from([1, 2, 7, 8, 25]), u(8)),
    source_data=st.binary(max_size=120),
    seq_count=u(14),
)


def as_packet(tm: PusTm) -> SpacePacket:
    return SpacePacket.decode(tm.encode())


#: Packets as they come off the link: well-formed PUS on our APIDs, anything else, truncated PUS.
packets = st.one_of(
    our_tms.map(as_packet),
    space_packets,
    st.builds(
        lambda tm, cut: SpacePacket(
            apid=tm.apid,
            packet_type=0,
            sec_header_flag=1,
            seq_flags=3,
            seq_count=0,
            data=tm.encode()[6:][: max(1, cut)],
        ),
        our_tms,
        st.integers(1, 30),
    ),
)


@contextmanager
def archive() -> Iterator[Archive]:
    with tempfile.TemporaryDirectory() as folder:
        store = Archive(Path(folder) / "mc.db")
        try:
            yield store
        finally:
            store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets, min_size=1, max_size=25))
def test_default_ingest_survives_any_packets(stream: list[SpacePacket]) -> None:
    with archive() as store:
        ingest = Ingest(store)
        for packet in stream:
            ingest(packet)  # never raises
        assert ingest.halted is None
        assert ingest.counts["ignored_while_halted"] == 0
        assert store.ingest_halts() == []
        # and it still takes the next packet after whatever came before
        ingest(as_packet(PusTm(catalog.PLATFORM_APID, 3, 25, b"")))
        assert ingest.halted is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets, min_size=1, max_size=25))
def test_legacy_ingest_halts_exactly_at_the_first_rejected_packet(
    stream: list[SpacePacket],
) -> None:
    with archive() as strict_store, archive() as legacy_store:
        strict = Ingest(strict_store)
        legacy = Ingest(legacy_store, halt_on_bad_packet=True)
        for packet in stream:
            before = strict.counts["rejected"]
            strict(packet)
            rejected = strict.counts["rejected"] > before
            was_halted = legacy.halted is not None
            legacy(packet)
            if was_halted:
                continue
            assert (legacy.halted is not None) == rejected
        halts = legacy_store.ingest_halts()
        assert len(halts) == (1 if legacy.halted is not None else 0)
        assert (legacy.halted is not None) == (strict.counts["rejected"] > 0)
