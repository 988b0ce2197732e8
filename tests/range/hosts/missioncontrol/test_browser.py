"""A real browser against the real server: headless Chromium (Debian's) via Playwright.

The app runs under uvicorn on a free 127.0.0.1 port in a thread, with the fake ground
station. Without Chromium the test skips loudly; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mc_fakes import FakeGroundStation

from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.settings import Settings

SCREENSHOT = Path("/tmp/mc-dashboard.png")

pytestmark = pytest.mark.browser


@pytest.fixture
def server(settings: Settings, serve_asgi: Any) -> str:
    """The real app under uvicorn on loopback; its base URL."""
    return str(serve_asgi(create_app(settings), lifespan="on"))


def test_login_live_dashboard_and_ping_to_completed(
    chromium: Any, server: str, ground_station: FakeGroundStation
) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{server}/login")
    page.get_by_label("User name").fill("op")
    page.get_by_label("Password").fill("op-secret")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    expect(page.locator("#hk-mode")).to_have_text("NOMINAL")
    expect(page.locator("#link-state")).to_have_text("connected")
    first = int(page.locator("#hk-seq").inner_text())
    expect(page.locator("#hk-seq")).not_to_have_text(str(first), timeout=5000)  # live update
    ground_station.ops_message = "pass 42 over Kiruna"
    expect(page.locator("#hk-ops")).to_have_text("pass 42 over Kiruna")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("link", name="Commands").click()
    page.get_by_role("button", name="Send PING").click()
    expect(page.get_by_role("status").first).to_contain_text("PING sent as command #1.")
    row = page.locator("#sent-table tbody tr[data-id='1']")
    expect(row).to_contain_text("completed", timeout=5000)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#gs-frames")).to_have_text("1")
    assert [tc.service for tc in ground_station.received] == [17]
    page.screenshot(path="/tmp/mc-commands.png", full_page=True)


def test_a_flight_director_sends_unlock_from_the_dashboard(
    chromium: Any, server: str, ground_station: FakeGroundStation
) -> None:
    """The uplink card in a real browser: the flight director sees Unlock and Set V(R),
    sends Unlock, and the ground station receives directive 128,1."""
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{server}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Uplink (COP-1)")).to_be_visible()
    expect(page.get_by_role("heading", name="On-board parameters")).to_be_visible()
    page.screenshot(path="/tmp/mc-dashboard-cop1.png", full_page=True)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("status").first).to_contain_text("Unlock sent to the ground station.")
    directives = [(tc.service, tc.subtype) for tc in ground_station.received]
    assert (128, 1) in directives


def test_two_flight_directors_approve_a_hazardous_command_in_the_browser(
    chromium: Any, serve_asgi: Any, two_person: Settings, ground_station: FakeGroundStation
) -> None:
    """The two-person rule on the commands page: one flight director's THRUSTER_FIRE
    waits (its requester cannot approve it), a second one, in another browser session,
    approves it and it completes."""
    from playwright.sync_api import expect

    server = serve_asgi(create_app(two_person), lifespan="on")

    def logged_in(user: str, password: str) -> Any:
        page = chromium.new_context().new_page()
        page.goto(f"{server}/login")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        page.get_by_role("link", name="Commands").click()
        return page

    first = logged_in("admin", "admin")
    first.get_by_label("duration_ms").fill("500")
    first.get_by_role("button", name="Send THRUSTER_FIRE").click()
    expect(first.get_by_role("status").first).to_contain_text("waits for a second person")
    expect(first.get_by_role("button", name="Approve #1")).to_be_disabled()
    assert ground_station.received == []

    second = logged_in("second", "second")
    second.get_by_role("button", name="Approve #1").click()
    expect(second.get_by_role("status").first).to_contain_text("approved: sent as command #1")
    expect(second.locator("#sent-table tbody tr[data-id='1']")).to_contain_text(
        "completed", timeout=5000
    )
    expect(second.locator("#pending-table")).to_contain_text("Nothing waits for approval.")
    second.screenshot(path="/tmp/mc-two-person.png", full_page=True)
    assert [(tc.service, tc.subtype) for tc in ground_station.received] == [(8, 1)]


def test_a_flight_director_loads_a_signed_table_from_the_commands_page(
    chromium: Any, server: str, ground_station: FakeGroundStation
) -> None:
    """labs/table-load's fix with a browser only: TABLE_LOAD's fields and its 64-octet
    signature typed into the commands page reach the uplink as PUS 130,1, octet for octet."""
    from playwright.sync_api import expect

    from labctl.protocols.table import LimitsTable, sign
    from labctl.range.hosts.catalog import BY_NAME

    signature = sign(bytes(range(32)), LimitsTable(2, 4000, True))
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{server}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Commands").click()
    fields = {"table": "1", "version": "2", "max_burn_ms": "4000", "thruster_enabled": "1"}
    for arg, value in {**fields, "signature": signature.hex()}.items():
        page.locator(f"#TABLE_LOAD-{arg}").fill(value)
    page.get_by_role("button", name="Send TABLE_LOAD").click()
    expect(page.get_by_role("status").first).to_contain_text("TABLE_LOAD sent")
    page.locator("#cmd-TABLE_LOAD").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/mc-table-load.png")
    (tc,) = [tc for tc in ground_station.received if tc.service == 130]
    assert (tc.service, tc.subtype) == (130, 1)
    assert tc.app_data == BY_NAME["TABLE_LOAD"].app_data(1, 2, 4000, 1, signature)
