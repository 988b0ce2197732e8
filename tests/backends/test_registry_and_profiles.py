"""The backend registry, and the confinement each host role gets."""

from __future__ import annotations

import pytest

from labctl.backends.base import Backend, backend_names, get_backend, register_backend
from labctl.backends.docker import DockerBackend
from labctl.backends.profiles import PROFILES, SSHD_CAPS, image_tag, profile
from labctl.errors import NotFoundError


def test_docker_is_registered_and_imported_on_first_use() -> None:
    assert "docker" in backend_names()
    assert isinstance(get_backend("docker"), DockerBackend)


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match=r"known: .*docker"):
        get_backend("kubernetes")


def test_registering_a_backend_by_name() -> None:
    @register_backend("null-for-test")
    class Null:
        name = "null-for-test"

    assert isinstance(get_backend("null-for-test"), Null)


def test_the_docker_backend_satisfies_the_interface() -> None:
    backend: Backend = DockerBackend()  # mypy checks the protocol; no engine is contacted
    assert backend.name == "docker"


def test_python_services_hold_no_capability_on_a_read_only_root() -> None:
    for role in ("spacecraft", "rf-link"):
        confined = profile(role)
        assert confined.capabilities == ()
        assert confined.read_only
        assert confined.no_new_privileges
        assert "/etc/labctl" in confined.volumes


def test_mission_control_runs_sshd_for_its_operations_engineers_only() -> None:
    """sshd's capabilities and setuid sudo, no network administration; its server keeps
    its configuration and archive on volumes."""
    confined = profile("mission-control")
    assert "NET_ADMIN" not in confined.capabilities
    assert "NET_RAW" not in confined.capabilities
    assert {"SETUID", "SETGID", "SYS_CHROOT"} <= set(confined.capabilities)
    assert "/etc/labctl" in confined.volumes
    assert confined.limits.writable_mib is not None


def test_only_the_ground_station_and_attacker_get_network_administration() -> None:
    admins = {role for role, p in PROFILES.items() if "NET_ADMIN" in p.capabilities}
    assert admins == {"ground-station", "attacker"}
    raw = {role for role, p in PROFILES.items() if "NET_RAW" in p.capabilities}
    assert raw == {"attacker"}


def test_sshd_hosts_keep_what_sshd_needs() -> None:
    for role in ("ground-station", "attacker"):
        assert set(SSHD_CAPS) <= set(profile(role).capabilities)
    assert "SYS_ADMIN" not in {c for p in PROFILES.values() for c in p.capabilities}


def test_only_attacker_and_mission_control_publish_ports() -> None:
    published = {role: p.published for role, p in PROFILES.items() if p.published}
    assert published == {"attacker": ("22/tcp",), "mission-control": ("8080/tcp",)}


def test_unknown_roles_get_the_strictest_profile() -> None:
    assert profile("grader-vantage").capabilities == ()


def test_image_tags_carry_the_labctl_version() -> None:
    from labctl import __version__

    assert image_tag("attacker") == f"labctl/attacker:{__version__}"


def test_an_image_tag_variable_gives_a_tree_its_own_images(monkeypatch) -> None:
    monkeypatch.setenv("LABCTL_IMAGE_TAG", "0.1.0-portal")
    assert image_tag("attacker") == "labctl/attacker:0.1.0-portal"


def test_a_bad_image_tag_variable_is_refused_with_what_to_give(monkeypatch) -> None:
    from labctl.errors import InputError

    monkeypatch.setenv("LABCTL_IMAGE_TAG", "feature/x")
    with pytest.raises(InputError, match="LABCTL_IMAGE_TAG='feature/x' is not a Docker tag"):
        image_tag("attacker")
