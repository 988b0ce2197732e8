"""Test policy shared by the whole suite.

Docker policy: a test that needs the engine is marked ``docker`` (tests using the
``docker_client`` fixture get the marker automatically). Without a reachable engine such tests
skip loudly on a workstation; in CI (``CI=true``) they fail, and any ``docker`` test skipped for
any reason counts as failed: a skipped integration test is a failed one.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    import docker

DOCKER_MARKER = "docker"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client connected to a Docker engine that answers; skip (fail in CI) when none does."""
    # Imported here so that unit tests never load the Docker SDK.
    from labctl.backends.docker.baseimage import docker_client as connect
    from labctl.errors import BackendError

    try:
        client = connect()
    except BackendError as exc:
        if in_ci():
            pytest.fail(f"CI=true and the Docker engine is not reachable: {exc}", pytrace=False)
        pytest.skip(f"Docker engine not reachable: {exc} -- these tests FAIL in CI")
    yield client
    client.close()


CHROMIUM = "/usr/bin/chromium"
#: Debian's Chromium as root in a sandbox with no network beyond loopback.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright; skip loudly without it (fail in CI)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("playwright is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        _browser_unavailable(f"{CHROMIUM} not found")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield browser
        browser.close()


def _browser_unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true and the browser test cannot run: {reason}", pytrace=False)
    pytest.skip(f"BROWSER TEST NOT RUN: {reason} -- apt-get install chromium; it FAILS in CI")


# --- docker marker policy ------------------------------------------------------------------


#: The xdist group of the tests marked ``machine_load``: the ones that load this two-CPU
#: machine on purpose and the ones a loaded machine upsets never run side by side.
MACHINE_LOAD_GROUP: Final = "machine-load"


# tryfirst: pytest-xdist's own hook (on each worker) turns the xdist_group markers into the
# node ids' @group suffix that --dist loadgroup schedules by, so ours must run before it.
#: The marker of the emulated arm64 run (tests/arch), and the variable that turns it on.
ARM64_MARKER: Final = "arm64"
ARM64_VARIABLE: Final = "LABCTL_ARM64"


def arm64_wanted() -> bool:
    return os.environ.get(ARM64_VARIABLE, "").strip() == "1"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not arm64_wanted():  # minutes of emulation: only when asked (.ci/run asks)
        left_out = [i for i in items if i.get_closest_marker(ARM64_MARKER) is not None]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [i for i in items if i.get_closest_marker(ARM64_MARKER) is None]
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()):
            item.add_marker(DOCKER_MARKER)
        shared = _shared_fixture(item)
        if item.get_closest_marker("machine_load") is not None:
            shared = MACHINE_LOAD_GROUP  # its fixtures' other users are marked too
        if shared is not None:
            item.add_marker(pytest.mark.xdist_group(shared))


def _shared_fixture(item: pytest.Item) -> str | None:
    """The module-, class- or package-scoped fixture the test shares with others (a live
    class of instances, a portal), if any: under pytest-xdist (``--dist loadgroup``) every
    test that shares it runs in one worker, in order, on one copy of it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in sorted(info.name2fixturedefs):
        for definition in info.name2fixturedefs[name]:
            if definition.scope in {"module", "package", "class"}:
                return f"{definition.baseid or '.'}::{name}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and in_ci()
        and item.get_closest_marker(DOCKER_MARKER) is not None
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: a skipped integration test is a failed one ({_skip_reason(report)})"
        )
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if DOCKER_MARKER in getattr(report, "keywords", {})
    ]
    if skipped:
        terminalreporter.section("Docker tests NOT RUN", sep="!", red=True, bold=True)
        terminalreporter.line(
            f"{len(skipped)} test(s) marked '{DOCKER_MARKER}' were SKIPPED; in CI they FAIL.",
            red=True,
        )
        terminalreporter.line(f"reason: {_skip_reason(skipped[0])}")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.fixture
def serve_asgi() -> Iterator[Any]:
    """``serve_asgi(app, **uvicorn_options)`` runs an ASGI app under uvicorn on a free
    127.0.0.1 port in a thread and returns its base URL; stopped after the test."""
    import socket
    import threading

    import uvicorn

    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any, **options: Any) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        for _ in range(250):
            if server.started:
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(5)
