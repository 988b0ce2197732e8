"""Helpers of the portal's live tests (a class session, a client, a login)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from labctl.portal.app import create_app
from labctl.portal.portal import Portal
from labctl.portal.proxy import mission_control_router
from labctl.portal.terminal import terminal_router

REPO = Path(__file__).resolve().parents[2]
ORIGIN = {"origin": "http://testserver"}


def app_for(portal: Portal, *, secure_cookies: bool = False):  # type: ignore[no-untyped-def]
    return create_app(
        portal,
        secure_cookies=secure_cookies,
        extra_routers=(terminal_router, mission_control_router),
    )


def client_for(portal: Portal) -> TestClient:
    return TestClient(app_for(portal))


def password_of(portal: Portal, session: str, student: str) -> str:
    member = portal.core.sessions.member(session, student)
    record = portal.core.store.get(member.instance)
    assert record is not None
    return record.access["password"]


def log_in(client: TestClient, login: str, password: str) -> str:
    response = client.post("/login", data={"login": login, "password": password})
    assert response.status_code == 200, response.text  # followed the redirect
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text[:500]
    return found.group(1)
