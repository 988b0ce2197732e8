"""Hypothesis strategies for the protocol codecs (shared by several test modules)."""

from __future__ import annotations

from hypothesis import strategies as st

from labctl.protocols.pus import CdsShortTime, PusTc, PusTm
from labctl.protocols.spacepacket import SpacePacket
from labctl.protocols.tc_frame import TcFrame
from labctl.protocols.tm_frame import Clcw, Fsr, TmFrame


def u(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, (1 << bits) - 1)


space_packets = st.builds(
    SpacePacket,
    apid=u(11),
    packet_type=u(1),
    sec_header_flag=u(1),
    seq_flags=u(2),
    seq_count=u(14),
    data=st.binary(min_size=1, max_size=300),
    version=u(3),
)

cds_times = st.builds(lambda d, m: CdsShortTime(d, m).encode(), u(16), u(32))

pus_tcs = st.builds(
    PusTc,
    apid=u(11),
    service=u(8),
    subtype=u(8),
    app_data=st.binary(max_size=200),
    seq_count=u(14),
    source_id=u(16),
    ack_flags=u(4),
    seq_flags=u(2),
)

pus_tms = st.builds(
    PusTm,
    apid=u(11),
    service=u(8),
    subtype=u(8),
    source_data=st.binary(max_size=200),
    seq_count=u(14),
    msg_counter=u(16),
    dest_id=u(16),
    time=cds_times,
    time_ref=u(4),
    seq_flags=u(2),
)

tc_frames = st.builds(
    TcFrame,
    scid=u(10),
    vcid=u(6),
    data=st.binary(min_size=1, max_size=300),
    seq=u(8),
    bypass=u(1),
    ctrl_cmd=u(1),
    spare=u(2),
    version=u(2),
)

ocfs = st.one_of(st.none(), st.binary(min_size=4, max_size=4))

tm_frames = st.builds(
    TmFrame,
    scid=u(10),
    vcid=u(3),
    data=st.binary(max_size=300),
    mc_count=u(8),
    vc_count=u(8),
    fhp=u(11),
    ocf=ocfs,
    secondary_header=st.one_of(st.none(), st.binary(max_size=63)),
    sync_flag=u(1),
    packet_order=u(1),
    segment_length_id=u(2),
    version=u(2),
)

clcws = st.builds(
    Clcw,
    vcid=u(6),
    report=u(8),
    lockout=u(1),
    wait=u(1),
    retransmit=u(1),
    farm_b_counter=u(2),
    no_rf=u(1),
    no_bitlock=u(1),
    status=u(3),
    cop=u(2),
    version=u(2),
    spare=u(2),
    spare2=u(1),
)

fsrs = st.builds(
    Fsr,
    alarm=u(1),
    bad_sn=u(1),
    bad_mac=u(1),
    bad_sa=u(1),
    spi=u(16),
    sn_lsb=u(8),
    version=u(3),
)
