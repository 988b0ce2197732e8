"""Nominal operations end to end on the real engine, with the real host programs.

An operator logs in to mission control over HTTP (through the published port), sends
PUS 17,1 and a function-management command; the frames cross ground station → rf-link →
spacecraft with SDLS authenticated encryption and COP-1; the spacecraft executes them
(ground truth, read out of band through the engine); verification reports and
housekeeping come back and show in mission control's API and in its UI, in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from live import eventually, login, mission_control_url, send, tc_replay_instance, truth

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def backend(lab_backend: DockerBackend) -> DockerBackend:
    return lab_backend


@pytest.fixture(scope="module")
def instance(
    backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instances, InstanceRecord]]:
    with tc_replay_instance(backend, tmp_path_factory.mktemp("state"), "nom") as running:
        yield running


@pytest.fixture(scope="module")
def base_url(instance: tuple[Instances, InstanceRecord]) -> str:
    return mission_control_url(instance[1])


def test_commands_cross_the_link_and_execute_on_board(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend, base_url: str
) -> None:
    _, record = instance
    client = login(base_url)
    assert send(client, "PING")["status"] == "completed"
    assert send(client, "PAYLOAD_ON")["status"] == "completed"

    executed = truth(backend, record)["executed_commands"]
    assert [entry["name"] for entry in executed] == ["PING", "PAYLOAD_ON"]
    uplink = truth(backend, record)["security_associations"]
    for entry in executed:
        assert entry["result"] == "completed", entry
        assert entry["spi"] not in (None, 0), entry  # came through the SDLS uplink SA
        assert entry["bypass"] is False, entry  # type AD: sequence-controlled by COP-1
    assert any(
        sa["spi"] == executed[0]["spi"] and sa["service"] == "AUTHENTICATED_ENCRYPTION"
        for sa in (uplink.values() if isinstance(uplink, dict) else uplink)
    ), uplink


def test_housekeeping_reaches_mission_control(base_url: str) -> None:
    client = login(base_url)

    def fresh_with_payload_on() -> dict[str, Any] | None:
        latest: dict[str, Any] = client.get("/api/telemetry/latest").json()
        hk = latest.get("housekeeping") or {}
        return latest if hk.get("payload_on") else None

    latest = eventually(fresh_with_payload_on, 30, "housekeeping with the payload on")
    assert latest["age_seconds"] < 15
    assert latest["ground_link"]["connected"] is True
    assert latest["housekeeping"]["commands_executed"] >= 2


def test_downlink_is_audible_from_the_attacker(
    instance: tuple[Instances, InstanceRecord], backend: DockerBackend
) -> None:
    _, record = instance
    capture = backend.exec(
        record.id,
        "attacker",
        ["timeout", "20", "tcpdump", "-c", "3", "-nn", "-i", "any", "udp", "port", "5103"],
    )
    assert capture.output.count("UDP") >= 3 or capture.output.count("5103") >= 3, capture.output


@pytest.mark.browser
def test_mission_control_ui_in_chromium(chromium: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{base_url}/login")
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill("operator")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#link-state")).to_have_text("connected", timeout=20000)
    first = page.locator("#hk-seq").inner_text()
    expect(page.locator("#hk-seq")).not_to_have_text(first, timeout=15000)
    page.screenshot(path="/tmp/mc-real-dashboard.png", full_page=True)
    page.get_by_role("link", name="Commands").click()
    page.get_by_role("button", name="Send PING").click()
    expect(page.locator("#sent-table tbody tr").first).to_contain_text("completed", timeout=30000)
