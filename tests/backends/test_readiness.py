"""Readiness answered from /proc: parsing the test, the socket tables, the guard that the
process is the container's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.backends.docker.readiness import bound, listening_sockets, ready_here

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
# As the kernel writes them: sshd listening on 0.0.0.0:22, an established connection from
# local port 8080, a bound UDP socket on 5100, a TCP socket in TIME_WAIT on 5101.
TCP = HEADER + (
    "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
    "   1: 0B00007F:1F90 0B00007F:9771 01 00000000:00000000 00:00000000 00000000 10001\n"
    "   2: 0B00007F:13ED 0B00007F:9772 06 00000000:00000000 00:00000000 00000000 10001\n"
)
UDP = HEADER + (
    "  10: 00000000:13EC 00000000:0000 07 00000000:00000000 00:00000000 00000000 10001\n"
)
TCP6 = HEADER + (
    "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000 10001\n"
)
CONTAINER = "8e4ad89151eadf1370d2e01e9290de76a3519ac2e6ad84ec86f849e2224b1607"


def proc_tree(root: Path, pid: int, tables: dict[str, str], cgroup: str) -> Path:
    net = root / str(pid) / "net"
    net.mkdir(parents=True)
    (root / str(pid) / "cgroup").write_text(cgroup)
    for name, text in tables.items():
        (net / name).write_text(text)
    return root


def test_the_listening_test_is_parsed_and_anything_else_is_not() -> None:
    assert listening_sockets(["labctl-listening", "tcp", "22", "udp", "5100"]) == [
        ("tcp", 22),
        ("udp", 5100),
    ]
    assert listening_sockets(["/usr/local/bin/labctl-listening", "tcp", "8080"]) == [("tcp", 8080)]
    for argv in (
        [],
        ["labctl-listening"],
        ["labctl-listening", "tcp"],
        ["labctl-listening", "sctp", "22"],
        ["labctl-listening", "tcp", "0"],
        ["labctl-listening", "tcp", "70000"],
        ["labctl-listening", "tcp", "-1"],
        ["python", "-c", "import urllib.request"],
        ["/bin/sh", "-c", "labctl-listening tcp 22"],
    ):
        assert listening_sockets(argv) is None, argv


def test_only_listening_tcp_and_bound_udp_sockets_count() -> None:
    assert bound(TCP, 22, "tcp")
    assert not bound(TCP, 8080, "tcp")  # an established connection's local port
    assert not bound(TCP, 5101, "tcp")  # TIME_WAIT
    assert bound(UDP, 5100, "udp")
    assert not bound(UDP, 22, "udp")
    assert bound(TCP6, 8080, "tcp")
    assert not bound("", 22, "tcp")


@given(st.text(max_size=400), st.integers(1, 65535))
def test_garbage_tables_never_raise(text: str, port: int) -> None:
    bound(text, port, "tcp")


def test_ready_here_reads_the_namespace_of_the_containers_process(tmp_path: Path) -> None:
    cgroup = f"9:pids:/docker/{CONTAINER}\n"
    proc = proc_tree(tmp_path, 41, {"tcp": TCP, "udp": UDP, "tcp6": TCP6}, cgroup)
    listening = ["labctl-listening", "tcp", "22", "udp", "5100"]
    assert ready_here(41, CONTAINER, listening, proc) is True
    assert ready_here(41, CONTAINER, ["labctl-listening", "tcp", "8080"], proc) is True  # v6
    assert ready_here(41, CONTAINER, ["labctl-listening", "udp", "5102"], proc) is False


@pytest.mark.parametrize(
    ("pid", "container", "argv"),
    [
        (41, "another-container", ["labctl-listening", "tcp", "22"]),  # PID reused
        (42, CONTAINER, ["labctl-listening", "tcp", "22"]),  # no such process here
        (0, CONTAINER, ["labctl-listening", "tcp", "22"]),  # not running
        (41, CONTAINER, ["true"]),  # not a listening test
    ],
)
def test_ready_here_declines_what_it_cannot_answer(
    tmp_path: Path, pid: int, container: str, argv: list[str]
) -> None:
    proc = proc_tree(tmp_path, 41, {"tcp": TCP}, f"0::/system.slice/docker-{CONTAINER}.scope\n")
    assert ready_here(pid, container, argv, proc) is None


def test_a_namespace_without_ipv6_tables_is_read_from_the_ipv4_ones(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path, 7, {"udp": UDP}, f"1:name=systemd:/docker/{CONTAINER}\n")
    assert ready_here(7, CONTAINER, ["labctl-listening", "udp", "5100"], proc) is True
    assert ready_here(7, CONTAINER, ["labctl-listening", "tcp", "22"], proc) is False
