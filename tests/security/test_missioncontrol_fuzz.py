"""Fuzzing mission control's API from its own OpenAPI document (issue 12).

Schemathesis generates requests for every operation in ``/api/openapi.json``, valid ones
and invalid ones (wrong types, values out of range, missing and extra fields), and sends
them to the real program on a loopback port (``mc_live.py``), linked to a fake ground
station on loopback, once without a session and once as an operator. The UI's pages and
forms, which the document leaves out, get 300 generated requests of their own (wild
numbers, dates and text in queries and forms) in an operator's cookie session. No answer
may be a 5xx, the log may hold no traceback, and the server must still answer
afterwards. The number of cases is bounded (hypothesis, derandomized: the same cases
every run).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

sys.path.append(str(Path(__file__).parent))
sys.path.append(str(Path(__file__).parents[1] / "hosts" / "missioncontrol"))

from mc_fakes import FakeGroundStation
from mc_live import Server, mission_control

pytestmark = pytest.mark.fuzz

#: Cases per operation and generation mode (11 operations, valid and invalid data).
CASES = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    station = FakeGroundStation(hk_period=0.5).start()
    try:
        with mission_control(tmp_path_factory.mktemp("mc"), station.port) as running:
            yield running
    finally:
        station.stop()


def fuzz(server: Server, user: str | None) -> Counter[int]:
    """Run every operation's cases; return how many answers had each status."""
    schema = schemathesis.openapi.from_url(server.base_url + "/api/openapi.json")
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode)

                @settings(
                    max_examples=CASES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def run(case: schemathesis.Case) -> None:
                    headers = server.login(user) if user else None
                    response = case.call(base_url=server.base_url, session=session, headers=headers)
                    statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        failures.append(f"{response.status_code} {case.as_curl_command()}")

                try:
                    run()
                except Unsatisfiable:
                    # No invalid input exists for an operation that takes none.
                    assert mode is GenerationMode.NEGATIVE, operation.label
    assert not failures, "\n".join(failures[:10])
    return statuses


def assert_still_serving(server: Server) -> None:
    assert server.alive()
    assert server.get("/api/health")[0] == 200
    assert server.get("/api/events", server.login())[0] == 200
    assert "Traceback" not in server.output()


def test_fuzzing_without_a_session_gets_no_5xx(server: Server) -> None:
    statuses = fuzz(server, None)
    assert sum(statuses.values()) >= 100
    assert 401 in statuses  # the cases reached the authentication, at least
    assert_still_serving(server)


def test_fuzzing_as_an_operator_gets_no_5xx(server: Server) -> None:
    statuses = fuzz(server, "op")
    assert sum(statuses.values()) >= 100
    assert statuses[200] + statuses[201] > 0  # some cases got through to the archive
    assert_still_serving(server)


# --- the UI's pages and forms (not in the OpenAPI document) --------------------------------

UI_GETS = ("/", "/login", "/dashboard", "/commands", "/telemetry", "/events", "/audit")
UI_POSTS = ("/login", "/logout", "/commands/send")
#: Values a page's query or a form might be handed: huge and negative numbers, long,
#: odd and non-ASCII text, dates at the edges of the calendar.
WILD = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=60),
    st.sampled_from(["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "nan", "1e999"]),
    st.sampled_from(["", "0x10", "-0", "1" * 5000, str(2**63), str(-(2**63) - 1), "9" * 30]),
)
FIELDS = st.sampled_from(
    ["since", "until", "before", "name", "csrf", "username", "password", "arg_mode",
     "arg_duration_ms", "arg_structure", "x"]
)  # fmt: skip


def ui_session(server: Server, session: requests.Session) -> str:
    """Log in through the form as the operator; return the session's CSRF token."""
    page = session.get(server.base_url + "/login", timeout=5).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    form = {"username": "op", "password": "op-secret", "csrf": csrf.group(1)}
    session.post(server.base_url + "/login", data=form, timeout=5, allow_redirects=False)
    page = session.get(server.base_url + "/commands", timeout=5).text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    return token.group(1)


def test_fuzzing_the_ui_as_an_operator_gets_no_5xx(server: Server) -> None:
    statuses: Counter[int] = Counter()
    with requests.Session() as session:
        csrf = ui_session(server, session)

        @settings(max_examples=300, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(
            post=st.booleans(),
            index=st.integers(min_value=0, max_value=len(UI_GETS) - 1),
            fields=st.dictionaries(FIELDS, WILD, max_size=6),
            keep_csrf=st.booleans(),
        )
        def run(post: bool, index: int, fields: dict[str, str], keep_csrf: bool) -> None:
            if post:
                path = UI_POSTS[index % len(UI_POSTS)]
                if keep_csrf and path != "/login":
                    fields = {**fields, "csrf": csrf}
                if path == "/logout":
                    return  # would end the session the other cases use
                answer = session.post(server.base_url + path, data=fields, timeout=10,
                                      allow_redirects=False)  # fmt: skip
            else:
                answer = session.get(server.base_url + UI_GETS[index], params=fields,
                                     timeout=10, allow_redirects=False)  # fmt: skip
            statuses[answer.status_code] += 1
            assert answer.status_code < 500, (path if post else UI_GETS[index], fields)

        run()
    assert statuses[200] > 0  # the session held: pages were served
    assert_still_serving(server)
