"""The checks of a lab's injects against the hosts: set_config keys and values (the hosts'
own parsers), write_file targets, injects without a host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from labctl.core.labs import LabsApi
from labctl.errors import SpecError
from labctl.range.configfiles import CONFIG_FILES, config_file, known_keys
from labctl.scenario.validate import validate_lab
from labctl.spec import find_lab_dirs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "example-lab"
LABS = REPO / "labs"


@pytest.mark.parametrize("lab_dir", [EXAMPLE, *find_lab_dirs([LABS])], ids=lambda p: p.name)
def test_the_shipped_labs_and_the_example_pass_every_check(lab_dir: Path) -> None:
    assert validate_lab(lab_dir).id == lab_dir.name


def _leaves(data: object, prefix: str = "") -> list[str]:
    if isinstance(data, dict) and data:
        return [k for key, v in data.items() for k in _leaves(v, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


@pytest.mark.parametrize("config", CONFIG_FILES, ids=lambda c: c.role)
def test_each_image_file_parses_and_every_key_in_it_is_known(config: object) -> None:
    assert config in CONFIG_FILES
    data = yaml.safe_load((REPO / config.example).read_text("utf-8"))  # type: ignore[attr-defined]
    keys, refused = known_keys(config, data)  # type: ignore[arg-type]
    assert refused is None
    assert [leaf for leaf in _leaves(data) if not keys.knows(leaf)] == []


def test_entries_of_free_name_sections_follow_their_pattern() -> None:
    config = config_file("mission-control", "/etc/labctl/mission-control.yaml")
    assert config is not None
    data = yaml.safe_load((REPO / config.example).read_text("utf-8"))
    keys, _ = known_keys(config, data)
    assert keys.knows("users.bob.password")
    assert keys.knows("users.bob")
    assert not keys.knows("users.bob.pasword")
    assert keys.is_free_name("users.bob")
    assert keys.read["sessions.lifetime_s"].kind == "float"


def _copy(tmp_path: Path, source: Path = EXAMPLE) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def _edit(lab_dir: Path, old: str, new: str) -> None:
    path = lab_dir / "lab.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _messages(lab_dir: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        validate_lab(lab_dir)
    return [f"{p.line}: {p.field_path}: {p.message}" for p in info.value.problems]


def test_an_added_host_is_checked_against_the_file_of_its_role(tmp_path: Path) -> None:
    lab_dir = _copy(tmp_path)
    _edit(
        lab_dir,
        "injects:\n  - kind: rf_conditions",
        "injects:\n  - {kind: set_config, host: backup-station, args:"
        " {file: /etc/labctl/ground-station.yaml, key: uplink.sa.anti_replai, value: false}}\n"
        "  - kind: rf_conditions",
    )
    (message,) = _messages(lab_dir)
    assert "ground-station reads no key 'uplink.sa.anti_replai'" in message
    assert "did you mean 'uplink.sa.anti_replay'?" in message


def test_no_close_key_lists_what_the_section_has(tmp_path: Path) -> None:
    lab_dir = _copy(tmp_path)
    _edit(
        lab_dir,
        "injects:\n  - kind: rf_conditions",
        "injects:\n  - {kind: set_config, host: rf-link, args:"
        " {file: /etc/labctl/rf-link.yaml, key: pcap.compression, value: 3}}\n"
        "  - kind: rf_conditions",
    )
    (message,) = _messages(lab_dir)
    assert message.endswith("; pcap has: max_bytes, path, rotate")


def test_every_edit_of_a_file_is_applied_before_the_host_judges_it(tmp_path: Path) -> None:
    lab_dir = _copy(tmp_path / "ok", LABS / "gs-ssh-keys")  # builds an SA from many keys
    validate_lab(lab_dir)
    broken = _copy(tmp_path / "broken", LABS / "gs-ssh-keys")
    _edit(
        broken,
        "key: sdls.associations.spare.state, value: keyed",
        "key: sdls.associations.spare.state, value: kayed",
    )
    (message,) = _messages(broken)
    assert ": injects[" in message
    assert ".args.value: " in message
    assert "spacecraft would refuse /etc/labctl/spacecraft.yaml at start" in message
    assert "sdls.associations.spare.state: one of unkeyed, keyed, operational" in message


def test_a_file_the_lab_writes_whole_is_not_checked_against_the_image(tmp_path: Path) -> None:
    lab_dir = _copy(tmp_path)
    _edit(
        lab_dir,
        "injects:\n  - kind: rf_conditions",
        "injects:\n  - {kind: write_file, host: rf-link, args:"
        " {path: /etc/labctl/rf-link.yaml, content: 'made: up\\n'}}\n"
        "  - {kind: set_config, host: rf-link, args:"
        " {file: /etc/labctl/rf-link.yaml, key: made, value: different}}\n"
        "  - kind: rf_conditions",
    )
    validate_lab(lab_dir)


@pytest.mark.parametrize(
    ("host", "path", "fine"),
    [
        ("attacker", "/usr/local/share/labctl/home/notes.txt", True),
        ("attacker", "/home/student/notes.txt", False),
        ("attacker", "/etc/motd", False),
        ("ground-station", "/etc/ssh/sshd_config.d/60-lab.conf", True),
        ("ground-station", "/home/flightops/.ssh/authorized_keys", False),
        ("ground-station", "/tmp/x", False),
        ("mission-control", "/var/lib/labctl/extra.db", True),
        ("mission-control", "/run/labctl/x", False),
    ],
)
def test_write_file_targets(tmp_path: Path, host: str, path: str, fine: bool) -> None:
    lab_dir = _copy(tmp_path)
    _edit(
        lab_dir,
        "injects:\n  - kind: rf_conditions",
        f"injects:\n  - {{kind: write_file, host: {host}, args: {{path: {path}, content: x}}}}\n"
        "  - kind: rf_conditions",
    )
    if fine:
        validate_lab(lab_dir)
        return
    (message,) = _messages(lab_dir)
    assert "injects[0].args.path" in message
    assert "tmpfs" in message or "read-only root file system" in message


def test_labs_api_get_refuses_what_up_would_fail_on(tmp_path: Path) -> None:
    lab_dir = _copy(tmp_path)
    _edit(lab_dir, "key: sdls.associations.rogue", "key: sdls.asociations.rogue")
    with pytest.raises(SpecError, match=r"did you mean 'sdls\.associations\.rogue"):
        LabsApi(tmp_path).get("example-lab")
    (entry,) = LabsApi(tmp_path).validate()
    assert entry.loaded is None
    assert len(entry.problems) == 1
