"""The server-rendered UI in-process: login form, CSRF, roles, escaping, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from mc_fakes import FakeGroundStation, wait_until

from labctl.range.hosts.missioncontrol.app import create_app
from labctl.range.hosts.missioncontrol.settings import Settings
from labctl.range.hosts.missioncontrol.webauth import LOGIN_CSRF_COOKIE, SESSION_COOKIE


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def hidden_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def ui_login(client: TestClient, user: str, password: str) -> str:
    """Log in through the form; return the session's CSRF token."""
    csrf = hidden_csrf(client.get("/login").text)
    form = {"username": user, "password": password, "csrf": csrf}
    response = client.post("/login", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboard"
    return hidden_csrf(client.get("/dashboard").text)


def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    for path in ("/", "/dashboard", "/commands", "/telemetry", "/events", "/audit"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] in {"/login", "/dashboard"}


def test_login_sets_an_httponly_samesite_cookie(client: TestClient) -> None:
    ui_login(client, "op", "op-secret")
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite", "").lower() == "strict"
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "op" in page.text
    assert "operator" in page.text
    assert "/audit" not in page.text  # the audit link is for flight directors


def test_login_form_without_its_csrf_cookie_is_refused(client: TestClient) -> None:
    client.get("/login")
    client.cookies.delete(LOGIN_CSRF_COOKIE)
    response = client.post("/login", data={"username": "admin", "password": "admin", "csrf": "x"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


def test_wrong_password_shows_the_form_again(client: TestClient) -> None:
    csrf = hidden_csrf(client.get("/login").text)
    response = client.post("/login", data={"username": "admin", "password": "x", "csrf": csrf})
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text


def test_command_form_sends_and_flashes(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    csrf = ui_login(client, "op", "op-secret")
    wait_until(lambda: client.get("/api/health").json()["ground_link"])
    response = client.post(
        "/commands/send", data={"csrf": csrf, "name": "SET_MODE", "arg_mode": "2"}
    )
    assert response.status_code == 303
    page = client.get("/commands").text
    assert "SET_MODE sent as command #1." in page
    wait_until(lambda: len(ground_station.received) == 1)
    assert ground_station.received[0].app_data == b"\x00\x03\x02"


def test_command_form_with_a_bad_csrf_token_is_refused(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    ui_login(client, "admin", "admin")
    response = client.post("/commands/send", data={"csrf": "forged", "name": "SAFE_MODE"})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert ground_station.received == []


def test_cookie_sessions_need_the_csrf_header_on_api_posts(client: TestClient) -> None:
    csrf = ui_login(client, "admin", "admin")
    response = client.post("/api/commands", json={"name": "PING"})
    assert response.status_code == 403
    assert response.json() == {"detail": "cookie sessions need the X-CSRF-Token header here"}
    response = client.post("/api/commands", json={"name": "PING"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code in {201, 503}  # passed the CSRF check


def test_operator_sees_hazardous_commands_marked_and_disabled(client: TestClient) -> None:
    ui_login(client, "op", "op-secret")
    page = client.get("/commands").text
    assert page.count('class="badge hazard"') >= 2
    assert re.search(r'disabled title="Your role may not send this command">Send SAFE_MODE', page)
    assert re.search(r'<button type="submit">Send PING</button>', page)


def test_audit_page_is_for_flight_directors(client: TestClient) -> None:
    ui_login(client, "op", "op-secret")
    assert client.get("/audit").status_code == 403
    client.cookies.clear()
    ui_login(client, "admin", "admin")
    page = client.get("/audit").text
    assert "server.start" in page
    assert "login" in page


def test_telemetry_from_the_spacecraft_is_escaped(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    ground_station.ops_message = "<script>alert(1)</script>"
    ui_login(client, "guest", "guest")
    wait_until(lambda: "alert" in client.get("/telemetry").text)
    page = client.get("/telemetry").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in client.get("/dashboard").text


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = ui_login(client, "guest", "guest")
    response = client.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert client.get("/dashboard").status_code == 303


def test_security_headers_and_no_stack_traces(client: TestClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    assert client.get("/docs").status_code == 404  # no Swagger UI (it would load a CDN)


def test_static_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/login").text
    assert "http://" not in page
    assert "https://" not in page
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_dashboard_offers_cop1_directives_to_the_flight_director(
    client: TestClient, ground_station: FakeGroundStation
) -> None:
    csrf = ui_login(client, "op", "op-secret")
    page = client.get("/dashboard").text
    assert 'id="cop-unlock"' not in page
    assert "COP-1 directives (Unlock, Set V(R)) need role flight-director" in page
    client.post("/logout", data={"csrf": csrf})

    csrf = ui_login(client, "admin", "admin")
    wait_until(lambda: client.get("/api/health").json()["ground_link"])
    page = client.get("/dashboard").text
    assert 'id="cop-unlock"' in page
    assert 'id="cop-set-vr"' in page
    response = client.post("/station/directives", data={"csrf": csrf, "directive": "unlock"})
    assert response.status_code == 303
    assert "Unlock sent to the ground station." in client.get("/dashboard").text
    client.post("/station/directives", data={"csrf": csrf, "directive": "set_vr", "vr": "300"})
    assert "Set V(R) 300 not sent" in client.get("/dashboard").text
    wait_until(lambda: len(ground_station.received) == 1)
    assert (ground_station.received[0].service, ground_station.received[0].subtype) == (128, 1)
