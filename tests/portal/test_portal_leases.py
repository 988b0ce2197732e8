"""A student's lease through the portal, on the real engine: the lab page says when the
lab ends, "I need more time" renews it, a page counts as activity, and a lab stopped for
idleness comes back from "Start it again" with the files of the student's home."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from portal_live import client_for, log_in, password_of

from labctl.core.api import Core
from labctl.instances.leases import utcnow
from labctl.portal.portal import Portal

pytestmark = pytest.mark.docker


def test_a_student_renews_is_active_and_starts_a_stopped_lab_again(
    portal: Portal, klass: tuple[Core, str, list[str]]
) -> None:
    core, session, (_, bob) = klass
    instance = core.sessions.member(session, bob).instance
    client = client_for(portal)
    csrf = log_in(client, bob, password_of(portal, session, bob))

    lease = core.instances.lease(instance)
    assert lease is not None
    assert (lease.lifetime, lease.idle) == (4 * 3600, 3600)  # a session's defaults
    lab = client.get("/lab").text
    assert "Your lab ends in" in lab
    assert "I need more time" in lab

    core.instances.instances.leases.touch(instance, now=utcnow() - timedelta(minutes=30))
    portal._touched.clear()  # the next page is written at once
    client.get("/lab")
    active = core.instances.lease(instance)
    assert active is not None
    assert active.active >= (utcnow() - timedelta(seconds=30)).isoformat(timespec="seconds")

    renewed = client.post("/lab/renew", data={"csrf": csrf})
    assert renewed.status_code == 200
    assert "More time" in renewed.text
    assert core.instances.lease(instance).renewals == lease.renewals + 1  # type: ignore[union-attr]
    assert client.post("/lab/renew", data={}).status_code == 403  # no CSRF token

    wrote = core.instances.backend.exec(
        instance, "attacker", ["sh", "-c", "echo field notes > /home/student/notes.txt"], "student"
    )
    assert wrote.exit_code == 0, wrote.output
    core.instances.stop_idle(instance)
    stopped = client.get("/lab").text
    assert "Your lab is stopped" in stopped
    assert "Start it again" in stopped
    # more time for a stopped lab is fine (it is not removed meanwhile); it stays stopped
    assert client.post("/lab/renew", data={"csrf": csrf}).status_code == 200
    assert core.store.get(instance).status == "stopped"  # type: ignore[union-attr]

    started = client.post("/lab/resume", data={"csrf": csrf})
    assert started.status_code == 200, started.text
    assert "starting again" in started.text
    deadline = time.monotonic() + 120
    while core.store.get(instance).status != "running":  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the lab did not start again in 2 minutes"
        time.sleep(1)
    kept = core.instances.backend.exec(instance, "attacker", ["cat", "/home/student/notes.txt"])
    assert kept.output.strip() == "field notes"
    assert "Your lab ends in" in client.get("/lab").text
    assert client.post("/lab/resume", data={"csrf": csrf}).status_code == 409  # not stopped
