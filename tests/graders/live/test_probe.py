"""LiveProbe's HTTP side against an in-process server: one client per probe."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast

import pytest

from graders.checks.base import HostFileStat
from graders.live.probe import LiveProbe
from labctl.backends.base import Backend, ExecResult, FileStat, HostStatus
from labctl.errors import CheckError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[tuple[str, int]]] = []

    def do_GET(self) -> None:
        type(self).peers.append(self.client_address)
        body = json.dumps({"age_seconds": 1.0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def server() -> Iterator[str]:
    Handler.peers = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_requests_of_one_probe_share_a_connection_until_it_is_closed(server: str) -> None:
    with LiveProbe(cast(Backend, object()), "lab-x", server) as probe:
        assert probe.api("GET", "/api/telemetry/latest") == (200, {"age_seconds": 1.0})
        probe.api("GET", "/api/telemetry/latest")
    assert len(Handler.peers) == 2
    assert Handler.peers[0] == Handler.peers[1]
    probe.api("GET", "/api/telemetry/latest")  # closed: a new connection, not an error
    assert Handler.peers[2] != Handler.peers[0]
    probe.close()


class ExecOnlyBackend:
    """A backend without vantage channels: every program is an exec."""

    name = "exec-only"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], str]] = []

    def exec(self, instance_id: str, host: str, argv: list[str], user: str = "root") -> ExecResult:
        self.calls.append((host, list(argv), user))
        if argv[0] == "cat":
            return ExecResult(0, '{"executed_commands": []}')
        return ExecResult(0, "listening\n{}\n")

    def vantages(self) -> object:
        """Vantage operations without channels: every program is an exec."""
        return object()


def test_without_channels_each_program_and_read_is_an_exec() -> None:
    backend = ExecOnlyBackend()
    lines: list[str] = []
    with LiveProbe(cast(Backend, backend), "lab-x", "http://127.0.0.1:9") as probe:
        assert probe.vantage_exec(["python3", "-m", "x"], 20.0, lines.append)[0] == 0
        assert probe.truth() == {"executed_commands": []}
        assert probe.truth() == {"executed_commands": []}
    assert lines == ["listening", "{}"]
    assert backend.calls == [
        ("labctl-grader", ["timeout", "20", "python3", "-m", "x"], "nobody"),
        ("spacecraft", ["cat", "/run/labctl/truth.json"], "root"),
        ("spacecraft", ["cat", "/run/labctl/truth.json"], "root"),
    ]


class StatBackend(ExecOnlyBackend):
    """Files as the engine reads them; an exec would be the host's own (lying) stat."""

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        self.calls.append((host, ["<engine stat>", path], ""))
        return FileStat(0o644, 10001, 10001) if path == "/etc/labctl/uplink.key" else None


def test_host_stat_is_the_engines_view_not_a_program_in_the_host() -> None:
    backend = StatBackend()
    with LiveProbe(cast(Backend, backend), "lab-x", "http://127.0.0.1:9") as probe:
        assert probe.host_stat("ground-station", "/etc/labctl/uplink.key") == HostFileStat(
            0o644, 10001, 10001
        )
        assert probe.host_stat("ground-station", "/etc/gone") is None
    assert [argv[0] for _, argv, _ in backend.calls] == ["<engine stat>", "<engine stat>"]


class OneNetworkVantages:
    """Vantage operations that record what they were asked."""

    events: ClassVar[list[tuple[str, ...]]] = []

    def __init__(self, backend: object) -> None:
        del backend

    def run_vantage(self, instance_id: str, host: str, *, network: str, **_: object) -> None:
        self.events.append(("run", host, network))

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        self.events.append(("remove", host))
        return True


class NetworkBackend(ExecOnlyBackend):
    name = "one-network"

    def vantages(self) -> OneNetworkVantages:
        return OneNetworkVantages(self)

    def status(self, instance_id: str) -> list[HostStatus]:
        addresses = {"rf": "10.0.1.3", "ground": "10.0.2.3"}
        return [HostStatus("ground-station", "running", "healthy", addresses=addresses)]


def test_a_program_on_another_network_gets_a_vantage_of_its_own_removed_after() -> None:
    backend = NetworkBackend()
    OneNetworkVantages.events = []
    with LiveProbe(cast(Backend, backend), "lab-x", "http://127.0.0.1:9", use_agent=False) as probe:
        assert probe.host_networks("ground-station") == {"rf": "10.0.1.3", "ground": "10.0.2.3"}
        assert probe.vantage_exec_on("ground", ["python3", "-m", "y"], 20.0)[0] == 0
    assert OneNetworkVantages.events == [
        ("run", "labctl-grader-ground", "ground"),
        ("remove", "labctl-grader-ground"),
    ]
    assert backend.calls == [
        ("labctl-grader-ground", ["timeout", "20", "python3", "-m", "y"], "nobody")
    ]


class TruthBackend(ExecOnlyBackend):
    """The spacecraft's ground truth file as given: missing, garbled, or not an object."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__()
        self.code, self.text = code, text

    def exec(self, instance_id: str, host: str, argv: list[str], user: str = "root") -> ExecResult:
        return ExecResult(self.code, self.text)


@pytest.mark.parametrize(
    ("code", "text", "message"),
    [
        (1, "cat: /run/labctl/truth.json: No such file or directory", "unreadable"),
        (0, "{half a document", "not JSON"),
        (0, "[]", "not a JSON object"),
    ],
)
def test_ground_truth_that_cannot_be_read_is_an_error_never_an_empty_document(
    code: int, text: str, message: str
) -> None:
    backend = TruthBackend(code, text)
    with (
        LiveProbe(cast(Backend, backend), "lab-x", "http://127.0.0.1:9") as probe,
        pytest.raises(CheckError, match=message),
    ):
        probe.truth()
