"""Every inject kind's applier on a fake engine: what it changes, idempotence, errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from scenario_fakes import FakeBackend

from labctl.backends.base import ExecResult, FileSpec
from labctl.scenario import BUILTIN_INJECTS, InjectContext, InjectError, InjectLog, applier_of
from labctl.spec import default_vocabulary

SC_CONFIG = "/etc/labctl/spacecraft.yaml"


def apply(ctx: InjectContext, kind: str, host: str, **args: Any) -> InjectLog:
    applier = applier_of(kind)
    assert applier is not None
    return applier.apply_raw(ctx, host, args)


def twice(ctx: InjectContext, kind: str, host: str, **args: Any) -> tuple[InjectLog, InjectLog]:
    return apply(ctx, kind, host, **args), apply(ctx, kind, host, **args)


def loaded(backend: FakeBackend, host: str, path: str) -> Any:
    content = backend.hosts[host].files[path].content
    assert content is not None
    return yaml.safe_load(content)


def test_the_vocabulary_s_inject_kinds_are_the_applier_classes_themselves() -> None:
    injects = default_vocabulary().injects
    assert injects.names() == sorted(applier.name for applier in BUILTIN_INJECTS)
    for applier in BUILTIN_INJECTS:
        entry = injects.get(applier.name)
        assert entry is not None
        assert entry.target is applier
        assert entry.args is applier.Args
        assert entry.summary


# --- set_config ----------------------------------------------------------------------------


def test_set_config_sets_a_dotted_key_once(ctx: InjectContext, backend: FakeBackend) -> None:
    key = "sdls.associations.uplink.anti_replay"
    first, second = twice(ctx, "set_config", "spacecraft", file=SC_CONFIG, key=key, value=False)
    assert (first.changed, second.changed) == (True, False)
    assert backend.writes == [("spacecraft", SC_CONFIG)]
    assert loaded(backend, "spacecraft", SC_CONFIG)["sdls"]["associations"]["uplink"] == {
        **loaded(backend, "spacecraft", SC_CONFIG)["sdls"]["associations"]["uplink"],
        "anti_replay": False,
    }
    assert first.summary == f"{SC_CONFIG}: {key} = False"


def test_set_config_keeps_mode_owner_and_comments(ctx: InjectContext, backend: FakeBackend) -> None:
    files = backend.hosts["spacecraft"].files
    files[SC_CONFIG] = FileSpec(files[SC_CONFIG].content, 0o640, 10001, 10001)
    apply(ctx, "set_config", "spacecraft", file=SC_CONFIG, key="scid", value=321)
    spec = backend.hosts["spacecraft"].files[SC_CONFIG]
    assert (spec.mode, spec.uid, spec.gid) == (0o640, 10001, 10001)
    assert spec.content is not None
    text = spec.content.decode()
    assert "\nscid: 321\n" in text
    assert "# Spacecraft identifier (10 bits" in text


def test_set_config_creates_mappings(ctx: InjectContext, backend: FakeBackend) -> None:
    apply(ctx, "set_config", "spacecraft", file=SC_CONFIG, key="extra.deep.flag", value=True)
    assert loaded(backend, "spacecraft", SC_CONFIG)["extra"] == {"deep": {"flag": True}}
    assert loaded(backend, "spacecraft", SC_CONFIG)["scid"] == 0x42


def test_set_config_masks_secret_values(ctx: InjectContext) -> None:
    log = apply(ctx, "set_config", "spacecraft", file=SC_CONFIG, key="x", value="hunter2")
    assert "hunter2" not in log.summary
    assert "<secret>" in log.summary


def test_set_config_errors(ctx: InjectContext) -> None:
    with pytest.raises(InjectError, match=r"/etc/labctl/nope\.yaml does not exist on spacecraft"):
        apply(ctx, "set_config", "spacecraft", file="/etc/labctl/nope.yaml", key="a", value=1)
    with pytest.raises(InjectError, match="scid holds int, not a mapping"):
        apply(ctx, "set_config", "spacecraft", file=SC_CONFIG, key="scid.low", value=1)


def test_rf_conditions_set_the_channel(ctx: InjectContext, backend: FakeBackend) -> None:
    args = {"loss": 0.2, "jamming": True, "pass_every": "10m", "pass_length": "2m"}
    first, second = twice(ctx, "rf_conditions", "rf-link", **args)
    assert (first.changed, second.changed) == (True, False)
    channel = loaded(backend, "rf-link", "/etc/labctl/rf-link.yaml")["channel"]
    assert channel["loss"] == 0.2
    # the noise threshold is the rf-link's own (docs/ground-segment.md): left as it was
    assert channel["jamming"] == {"uplink": True, "downlink": True, "noise_threshold": 500}
    assert channel["passes"] == {"period": 600, "duration": 120, "offset": 0}
    with pytest.raises(InjectError, match="pass_every needs pass_length"):
        apply(ctx, "rf_conditions", "rf-link", pass_every=60)


# --- write_file ----------------------------------------------------------------------------


def test_write_file_content_mode_owner_once(ctx: InjectContext, backend: FakeBackend) -> None:
    path = "/etc/labctl/keys/uplink.key"
    args = {"path": path, "content": "ab" * 16 + "\n", "mode": "0600", "owner": "labctl"}
    first, second = twice(ctx, "write_file", "spacecraft", **args)
    assert (first.changed, second.changed) == (True, False)
    spec = backend.hosts["spacecraft"].files[path]
    assert (spec.content, spec.mode, spec.uid, spec.gid) == (
        b"ab" * 16 + b"\n",
        0o600,
        10001,
        10001,
    )
    assert "ab" * 16 not in first.summary


def test_write_file_fixes_mode_alone(ctx: InjectContext, backend: FakeBackend) -> None:
    path = "/etc/labctl/keys/uplink.key"
    log = apply(
        ctx,
        "write_file",
        "ground-station",
        path=path,
        content="00" * 16 + "\n",
        mode="0644",
        owner="labctl",
    )
    assert log.changed
    assert backend.hosts["ground-station"].files[path].mode == 0o644


def test_write_file_renders_a_template(ctx: InjectContext, backend: FakeBackend) -> None:
    log = apply(ctx, "write_file", "attacker", path="/etc/motd", template="templates/motd.j2")
    assert log.changed
    assert backend.hosts["attacker"].files["/etc/motd"].content == b"Welcome ana to SC 321\n"
    assert backend.hosts["attacker"].files["/etc/motd"].uid == 0


def test_write_file_errors(ctx: InjectContext) -> None:
    with pytest.raises(InjectError, match="outside the lab folder"):
        apply(ctx, "write_file", "attacker", path="/etc/x", template="../escape.j2")
    with pytest.raises(InjectError, match="cannot be read"):
        apply(ctx, "write_file", "attacker", path="/etc/x", template="templates/none.j2")
    with pytest.raises(InjectError, match=r"no account 'nobody2' on attacker"):
        apply(ctx, "write_file", "attacker", path="/etc/x", content="x", owner="nobody2")


# --- add_user, service, port, network ------------------------------------------------------


def test_add_user_creates_then_changes_nothing(ctx: InjectContext, backend: FakeBackend) -> None:
    args = {"user": "operator", "password": "hunter2", "groups": ["adm"]}
    first, second = twice(ctx, "add_user", "ground-station", **args)
    assert (first.changed, second.changed) == (True, False)
    assert first.summary == "user operator: created, password set"
    assert backend.hosts["ground-station"].users["operator"]["groups"] == ["adm"]
    third = apply(ctx, "add_user", "ground-station", user="operator", password="other")
    assert (third.changed, third.summary) == (True, "user operator: password set")


def test_add_user_aligns_an_existing_account(ctx: InjectContext, backend: FakeBackend) -> None:
    apply(ctx, "add_user", "ground-station", user="op")
    log = apply(ctx, "add_user", "ground-station", user="op", shell="/bin/sh", groups=["adm"])
    assert log.summary == "user op: shell /bin/sh, groups +adm"
    assert backend.hosts["ground-station"].users["op"]["shell"] == "/bin/sh"


def test_service_switches_sshd_on_the_ground_station(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    off, off_again = twice(ctx, "service", "ground-station", service="sshd", enabled=False)
    assert (off.changed, off_again.changed) == (True, False)
    assert backend.hosts["ground-station"].sshd_pid is None
    on, on_again = twice(ctx, "service", "ground-station", service="ssh", enabled=True)
    assert (on.changed, on_again.changed) == (True, False)
    assert on.summary == "sshd running"


@pytest.mark.parametrize(
    ("service", "host"), [("sshd", "spacecraft"), ("groundstation", "ground-station")]
)
def test_service_refuses_what_it_cannot_switch(ctx: InjectContext, service: str, host: str) -> None:
    with pytest.raises(InjectError, match="cannot be switched: only sshd on a ground-station"):
        apply(ctx, "service", host, service=service, enabled=False)


def test_port_closes_and_opens_once(ctx: InjectContext, backend: FakeBackend) -> None:
    closed, closed_again = twice(ctx, "port", "ground-station", port=10025, open=False)
    assert (closed.changed, closed_again.changed) == (True, False)
    assert backend.hosts["ground-station"].rules == [
        ("INPUT", "-p", "tcp", "--dport", "10025", "-j", "DROP")
    ]
    opened, opened_again = twice(ctx, "port", "ground-station", port=10025, open=True)
    assert (opened.changed, opened_again.changed) == (True, False)
    assert backend.hosts["ground-station"].rules == []


def test_port_without_iptables_is_a_clear_error(ctx: InjectContext, backend: FakeBackend) -> None:
    refusal = (
        "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied"
    )
    backend._cmd_iptables = lambda *_: ExecResult(4, refusal)  # type: ignore[method-assign]
    with pytest.raises(
        InjectError, match=r"iptables on spacecraft \(it needs NET_ADMIN\): .*Permission denied"
    ):
        apply(ctx, "port", "spacecraft", port=22, open=False)


def test_network_attaches_and_detaches_once(ctx: InjectContext, backend: FakeBackend) -> None:
    on, on_again = twice(ctx, "network", "attacker", network="rf", attached=True)
    assert (on.changed, on_again.changed) == (True, False)
    assert backend.hosts["attacker"].networks == {"corp", "rf"}
    off = apply(ctx, "network", "attacker", network="rf", attached=False)
    assert (off.changed, off.summary) == (True, "detached from rf")


# --- image_archive -------------------------------------------------------------------------


def test_image_archive_writes_a_loadable_image_once(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    from labctl.range import imagearchive

    path = "/srv/releases/gs.tar"
    layers = [
        {"created_by": "COPY app", "files": {"opt/app/VERSION": "1\n"}},
        {"created_by": "COPY keys/", "files": {"etc/keys/k": "ab" * 16}},
        {"created_by": "RUN rm /etc/keys/k", "delete": ["etc/keys/k"]},
    ]
    args = {"path": path, "name": "gs:1", "layers": layers, "owner": "labctl"}
    first, second = twice(ctx, "image_archive", "ground-station", **args)
    assert (first.changed, second.changed) == (True, False)
    assert "3 layer(s)" in first.summary
    assert "ab" * 16 not in first.summary
    spec = backend.hosts["ground-station"].files[path]
    assert spec.content is not None
    assert (spec.mode, spec.uid) == (0o644, 10001)
    image = imagearchive.read(spec.content)
    assert image.tags == ("gs:1",)
    assert image.files() == {"opt", "opt/app", "opt/app/VERSION", "etc", "etc/keys"}
    assert imagearchive.secrets_in(spec.content, {"k": bytes.fromhex("ab" * 16)})


@pytest.mark.parametrize(
    ("layers", "problem"),
    [
        ([], "at least 1"),
        ([{"created_by": "x", "files": {"../etc/passwd": "x"}}], "not a path inside"),
        ([{"created_by": "", "files": {}}], "at least 1 character"),
    ],
)
def test_image_archive_rejects_bad_layers(
    ctx: InjectContext, layers: list[dict[str, Any]], problem: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=problem):
        apply(ctx, "image_archive", "ground-station", path="/x.tar", name="a:1", layers=layers)
