"""Host references in vocabulary arguments, checked against the lab's topology: any
argument model's ``HostName`` fields (a plugin's too), given or default, in lists and
nested models, with file:line; the topology's own changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

import pytest
from pydantic import BaseModel, Field

from labctl.errors import SpecError
from labctl.spec import default_vocabulary, load_lab
from labctl.spec.models import Lab, Network
from labctl.spec.topology import host_values
from labctl.spec.vocabulary import Args, HostName, HostRef, PortNumber, Vocabulary

HEAD = """\
schema_version: 1
id: hosts-lab
title: Minimal lab
summary: A minimal lab used to test host references.
difficulty: introductory
duration: 30m
mode: attack
sparta:
  techniques: [EX-0001.01]
cissp_domains: [4]
"""


class Link(BaseModel):
    to: HostName
    port: PortNumber = 22


class WatchArgs(Args):
    source: HostName = "mission-control"
    targets: list[HostName] = Field(default_factory=list)
    via: HostName | None = None
    links: tuple[Link, ...] = ()
    radio: Annotated[HostName, HostRef(on=("rf",), seen_from="the radio")] = "rf-link"


class Watch:
    """A third-party check: only its argument model matters to the loader."""

    name: ClassVar[str] = "watch_hosts"
    summary: ClassVar[str] = "watches hosts"
    Args = WatchArgs


def vocabulary() -> Vocabulary:
    vocab = Vocabulary()
    vocab.checks.add_item(Watch, "a plugin")
    return vocab


def lab_dir(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "hosts-lab"
    folder.mkdir(parents=True)
    (folder / "briefing.md").write_text("# Briefing\n", encoding="utf-8")
    (folder / "lab.yaml").write_text(HEAD + body, encoding="utf-8")
    return folder


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir(tmp_path, body), vocabulary())
    return [f"{p.line}: {p.field_path}: {p.message}" for p in info.value.problems]


def objective(args: str) -> str:
    return f"""\
objectives:
  - id: watched
    kind: remediation
    title: Hosts are watched
    points: 10
    check:
      name: watch_hosts
      args: {args}
"""


def test_valid_host_names_load(tmp_path: Path) -> None:
    body = objective("{source: attacker, targets: [spacecraft, ground-station], via: rf-link}")
    loaded = load_lab(lab_dir(tmp_path, body), vocabulary())
    assert loaded.id == "hosts-lab"


def test_a_plugins_host_fields_are_checked_wherever_they_are(tmp_path: Path) -> None:
    args = (
        "{source: mision-control, targets: [spacecraft, groundstation], via: zzz,"
        " links: [{to: attacker}, {to: atacker, port: 70000}]}"
    )
    # links does not validate (a port out of range): the other fields are checked all the same.
    assert problems(tmp_path, objective(args)) == [
        "18: objectives[0].check.args.source: unknown host 'mision-control' (did you mean"
        " 'mission-control'?)",
        "18: objectives[0].check.args.targets[1]: unknown host 'groundstation' (did you mean"
        " 'ground-station'?)",
        "18: objectives[0].check.args.via: unknown host 'zzz'; its hosts: attacker,"
        " ground-station, mission-control, rf-link, spacecraft",
        "18: objectives[0].check.args.links[1].port: input should be less than or equal to"
        " 65535 (got 70000)",
    ]


def test_nested_models_are_checked_when_the_args_are_valid(tmp_path: Path) -> None:
    args = "{links: [{to: attacker}, {to: atacker}]}"
    assert problems(tmp_path, objective(args)) == [
        "18: objectives[0].check.args.links[1].to: unknown host 'atacker' (did you mean"
        " 'attacker'?)"
    ]


def test_defaults_are_checked_against_the_topology_and_networks(tmp_path: Path) -> None:
    body = (
        "topology:\n  remove_hosts: [mission-control]\n  detach: [{host: rf-link, network: rf}]\n"
    )
    assert problems(tmp_path, body + objective("{}")) == [
        "20: objectives[0].check: check 'watch_hosts': source defaults to 'mission-control',"
        " which is removed by this lab's topology (topology.remove_hosts)",
        "20: objectives[0].check: check 'watch_hosts': radio defaults to 'rf-link', which is on"
        " no network the radio is on (rf); its networks: none",
    ]


def test_an_added_host_can_be_named(tmp_path: Path) -> None:
    body = "topology:\n  add_hosts: [{name: archive, role: mission-control, networks: [rf]}]\n"
    body += objective("{source: archive, radio: archive}")
    assert load_lab(lab_dir(tmp_path, body), vocabulary()).spec.hosts()["archive"] == {Network.RF}


def test_a_network_an_inject_attaches_counts_for_where_a_host_is_observed(
    tmp_path: Path,
) -> None:
    body = "topology:\n  add_hosts: [{name: archive, role: mission-control, networks: [ground]}]\n"
    body += objective("{radio: archive}")
    with pytest.raises(SpecError, match="'archive' is on no network the radio is on"):
        load_lab(lab_dir(tmp_path / "without", body), vocabulary())
    network = default_vocabulary().injects.get("network")
    assert network is not None
    vocab = vocabulary()
    vocab.injects.add(network.name, network.args, network.summary, network.target)
    body += "injects:\n  - {kind: network, host: archive, args: {network: rf}}\n"
    assert load_lab(lab_dir(tmp_path / "with", body), vocab).id == "hosts-lab"


def test_attach_changes_hosts_and_never_makes_one() -> None:
    lab = Lab.model_validate(
        {
            **_minimal(),
            "topology": {
                "remove_hosts": ["attacker"],
                "attach": [
                    {"host": "attacker", "network": "rf"},
                    {"host": "groundstation", "network": "corp"},
                    {"host": "spacecraft", "network": "corp"},
                ],
            },
        }
    )
    hosts = lab.hosts()
    assert "attacker" not in hosts
    assert "groundstation" not in hosts
    assert hosts["spacecraft"] == {Network.RF, Network.CORP}


def test_host_values_reads_aliases() -> None:
    from labctl.spec.builtin_vocabulary import BruteForce

    found = list(host_values(BruteForce(target="ssh", username="flightops")))
    assert [(path, value, host) for path, value, host, _ in found] == [
        (("target",), "ssh", "ground-station")
    ]


def _minimal() -> dict[str, object]:
    return {
        "id": "x-lab",
        "title": "Minimal lab",
        "summary": "A minimal lab for the model.",
        "difficulty": "introductory",
        "duration": "30m",
        "mode": "attack",
        "sparta": {"techniques": ["EX-0001.01"]},
        "cissp_domains": [4],
        "objectives": [
            {"id": "o", "kind": "report", "title": "A report", "points": 1},
        ],
    }
