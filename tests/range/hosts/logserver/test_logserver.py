"""The remote log collector: real TCP on 127.0.0.1, a real store file.

Every byte it reads is a sender's: lines that are not JSON objects, lines too long,
brackets nested to blow a parser's stack, and a store that is full must each be counted
and answered without losing what was stored, or rewriting it.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from logserver_running import Running, stored, wait_until

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.logserver.config import MIN_STORE_BYTES, LogServerConfig, parse_config
from labctl.range.hosts.logserver.service import parse_record


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Running]:
    config = LogServerConfig(
        host="127.0.0.1",
        port=0,
        path=tmp_path / "collected.jsonl",
        max_bytes=MIN_STORE_BYTES,
        max_line=1024,
        max_clients=2,
        status_file=tmp_path / "status.json",
    )
    running = Running(config).start()
    yield running
    running.stop()


def send(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def test_records_are_stored_wrapped_with_the_sender_and_the_time(
    collector: Running, tmp_path: Path
) -> None:
    before = time.time()
    with send(collector.port, b'{"actor": "admin", "action": "command.send"}\n{"n": 2}\n'):
        wait_until(lambda: len(stored(tmp_path / "collected.jsonl")) == 2)
    first, second = stored(tmp_path / "collected.jsonl")
    assert first["record"] == {"actor": "admin", "action": "command.send"}
    assert first["from"] == "127.0.0.1"
    assert before <= first["received"] <= time.time()
    assert second["record"] == {"n": 2}


def test_lines_that_are_not_json_objects_are_counted_not_stored(
    collector: Running, tmp_path: Path
) -> None:
    hostile = b'not json\n[1, 2]\n"text"\n' + b"[" * 500 + b"\n" + b'{"ok": 1}\n'
    with send(collector.port, hostile):
        wait_until(lambda: len(stored(tmp_path / "collected.jsonl")) == 1)
    assert collector.server.counters.rejected == 4
    assert stored(tmp_path / "collected.jsonl")[0]["record"] == {"ok": 1}


def test_a_record_cannot_forge_a_second_line(collector: Running, tmp_path: Path) -> None:
    forged = json.dumps({"text": 'x"}\n{"record": {"actor": "nobody"}}'}).encode() + b"\n"
    with send(collector.port, forged):
        wait_until(lambda: collector.server.counters.stored == 1)
    (only,) = stored(tmp_path / "collected.jsonl")
    assert only["record"]["text"].startswith('x"}')


def test_a_line_over_the_limit_ends_its_connection(collector: Running, tmp_path: Path) -> None:
    sock = send(collector.port, b'{"a": "' + b"x" * 5000 + b'"}\n')
    sock.settimeout(5)
    assert sock.recv(1) == b""  # closed by the collector
    sock.close()
    assert collector.server.counters.oversized == 1
    with send(collector.port, b'{"after": true}\n'):
        wait_until(lambda: collector.server.counters.stored == 1)


def test_a_full_store_drops_new_records_and_keeps_the_old_ones(
    collector: Running, tmp_path: Path
) -> None:
    line = json.dumps({"pad": "p" * 800}).encode() + b"\n"
    with send(collector.port, line * 100):
        wait_until(lambda: collector.server.counters.dropped_full > 0)
    path = tmp_path / "collected.jsonl"
    assert path.stat().st_size <= MIN_STORE_BYTES
    kept = stored(path)
    assert len(kept) == collector.server.counters.stored
    assert all(r["record"] == {"pad": "p" * 800} for r in kept)


def test_clients_beyond_the_limit_are_closed_and_counted(collector: Running) -> None:
    held = [send(collector.port, b""), send(collector.port, b"")]
    wait_until(lambda: collector.server.counters.connections == 2)
    extra = send(collector.port, b"")
    extra.settimeout(5)
    assert extra.recv(1) == b""
    wait_until(lambda: collector.server.counters.refused_clients == 1)
    for sock in (*held, extra):
        sock.close()


def test_the_status_file_counts(collector: Running, tmp_path: Path) -> None:
    with send(collector.port, b'{"x": 1}\n'):
        wait_until(lambda: collector.server.counters.stored == 1)
    wait_until(lambda: json.loads((tmp_path / "status.json").read_text())["stored"] == 1)


def test_parse_record_takes_only_objects() -> None:
    assert parse_record(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert parse_record(b"\xff\xfe") is None
    assert parse_record(b"null") is None
    assert parse_record(b"{" * 17 + b"}" * 17) is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"listen": {"port": 0}}, "listen.port"),
        ({"store": {"max_bytes": 10}}, "store.max_bytes"),
        ({"store": {"rotate": True}}, "store.rotate"),
        ({"max_line": "big"}, "max_line"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_are_named_in_one_line(data: dict[str, Any], key: str) -> None:
    with pytest.raises(HostConfigError) as caught:
        parse_config(Config(data, "log-server.yaml"))
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


def test_the_shipped_example_is_the_defaults() -> None:
    example = Path(__file__).parents[4] / "containers" / "log-server" / "log-server.yaml"
    parsed = parse_config(Config.load(example))
    assert parsed == LogServerConfig(file=str(example))
