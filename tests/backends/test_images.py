"""Image sources and build plumbing, without an engine: contexts, hashes, pip arguments."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from labctl.backends.docker import wheelhouse
from labctl.backends.docker.images import HOST_ROLES, RUNTIME, _follow, context_bytes, project_root
from labctl.backends.docker.wheelhouse import tree_digest
from labctl.errors import BackendError

CONTAINERS = Path(__file__).resolve().parents[2] / "containers"


def dockerfile(role: str) -> str:
    return (CONTAINERS / role / "Dockerfile").read_text(encoding="utf-8")


def test_the_project_root_holds_the_container_sources() -> None:
    assert (project_root() / "containers" / RUNTIME / "Dockerfile").is_file()


def test_runtime_installs_wheels_offline_under_tini() -> None:
    text = dockerfile(RUNTIME)
    assert "FROM ${BASE_IMAGE}" in text
    assert "--no-index" in text
    assert re.search(r"apt-get install .*python3 .*tini", text)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"' in text


@pytest.mark.parametrize("role", HOST_ROLES)
def test_host_images_build_from_the_runtime_with_a_health_check(role: str) -> None:
    text = dockerfile(role)
    assert "FROM ${RUNTIME_IMAGE}" in text
    assert "HEALTHCHECK" in text
    assert "pip install --no-cache-dir --no-index --no-deps /tmp/wheel/*.whl" in text


@pytest.mark.parametrize("role", ["spacecraft", "rf-link", "ground-station", "mission-control"])
def test_service_images_copy_their_example_config(role: str) -> None:
    assert "*.yaml /etc/labctl/" in dockerfile(role)


@pytest.mark.parametrize(
    ("role", "module"),
    [
        ("spacecraft", "labctl.range.hosts.spacecraft"),
        ("rf-link", "labctl.range.hosts.rflink"),
        ("ground-station", "labctl.range.hosts.groundstation"),
        ("mission-control", "labctl.range.hosts.missioncontrol"),
    ],
)
def test_service_images_run_their_module_with_its_config(role: str, module: str) -> None:
    expected = f'CMD ["python", "-m", "{module}", "--config", "/etc/labctl/{role}.yaml"]'
    assert expected in dockerfile(role)


@pytest.mark.parametrize("role", ["spacecraft", "rf-link"])
def test_python_services_run_unprivileged(role: str) -> None:
    assert "\nUSER labctl\n" in dockerfile(role)


@pytest.mark.parametrize("role", ["ground-station", "mission-control"])
def test_hosts_with_operations_engineers_drop_to_labctl_for_their_program(role: str) -> None:
    """sshd runs as root (it switches users); the program itself as labctl."""
    entrypoint = (CONTAINERS / role / "entrypoint.sh").read_text()
    assert entrypoint.rstrip().endswith(
        'exec setpriv --reuid=labctl --regid=labctl --init-groups -- "$@"'
    )
    assert "COPY sudoers-labops /etc/sudoers.d/labops" in dockerfile(role)


def test_attacker_has_the_tools_and_a_student() -> None:
    text = dockerfile("attacker")
    for tool in ("nmap", "hydra", "tcpdump", "tshark", "curl", "openssh-server", "iproute2"):
        assert tool in text
    assert "wireshark-common/install-setuid boolean false" in text
    assert "--user-group student" in text
    assert "from labctl.protocols.layers import *" in text


def test_no_ssh_host_key_is_baked_into_an_image() -> None:
    for role in ("ground-station", "attacker"):
        assert "rm -f /etc/ssh/ssh_host_*" in dockerfile(role)


def test_a_build_context_holds_the_folder(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file.yaml").write_text("a: 1\n")
    with tarfile.open(fileobj=io.BytesIO(context_bytes(tmp_path))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"Dockerfile", "sub", "sub/file.yaml"}
    assert members["Dockerfile"].uid == 0


def test_tree_digest_follows_content_and_names_but_not_caches(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    first = tree_digest(tmp_path, [tmp_path])
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert tree_digest(tmp_path, [tmp_path]) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert tree_digest(tmp_path, [tmp_path]) != first


def test_a_failed_build_step_raises_with_the_engine_message() -> None:
    seen: list[str] = []
    events = iter([{"stream": "Step 1/2 : FROM x\n"}, {"error": "apt-get failed\n"}])
    with pytest.raises(BackendError, match="apt-get failed"):
        _follow("attacker", events, lambda subject, message: seen.append(message))
    assert seen == ["Step 1/2 : FROM x"]


def test_dependency_wheels_are_fetched_for_the_image_interpreter() -> None:
    argv = wheelhouse._download_argv(["pydantic>=2"], "x86_64")
    assert argv[1:4] == ["-m", "pip", "download"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[-1] == "pydantic>=2"
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    assert "manylinux_2_36_x86_64" in platforms
    assert "manylinux2014_x86_64" in platforms
    assert not any("aarch64" in p for p in platforms)


@pytest.mark.parametrize(
    ("reported", "linux"), [("x86_64", "x86_64"), ("AMD64", "x86_64"), ("arm64", "aarch64")]
)
def test_the_host_machine_goes_by_its_linux_name(
    monkeypatch: pytest.MonkeyPatch, reported: str, linux: str
) -> None:
    monkeypatch.setattr(wheelhouse.platform, "machine", lambda: reported)
    assert wheelhouse.host_machine() == linux


def test_wheels_for_another_architecture_are_fetched_for_it_into_their_own_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    argv = wheelhouse._download_argv(["pydantic>=2"], "aarch64")
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    assert "manylinux2014_aarch64" in platforms
    assert not any("x86_64" in p for p in platforms)
    monkeypatch.setattr(wheelhouse, "host_machine", lambda: "x86_64")
    root = tmp_path / "wheelhouse"
    assert wheelhouse._deps_dir(root, "x86_64") == root / "deps"
    assert wheelhouse._deps_dir(root, "aarch64") == root / "deps-aarch64"
    (root / "deps").mkdir(parents=True)
    (root / "deps" / "a-1-py3-none-any.whl").touch()
    (root / "project").mkdir()
    (root / "project" / "labctl-0.1.0-py3-none-any.whl").touch()
    assert wheelhouse.existing_wheelhouse(tmp_path) is not None
    assert wheelhouse.existing_wheelhouse(tmp_path, "aarch64") is None  # not fetched yet


def test_pip_failure_says_what_to_do() -> None:
    argv = ["/bin/false", "-m", "pip", "download"]
    with pytest.raises(BackendError, match="labctl images load"):
        wheelhouse._pip(argv)


def test_the_cache_follows_labctl_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABCTL_CACHE", str(tmp_path))
    assert wheelhouse.cache_dir() == tmp_path


def test_proxy_variables_are_not_looked_up_for_a_socket_or_ssh_engine() -> None:
    import docker

    from labctl.backends.docker.baseimage import without_proxy_lookups

    local = without_proxy_lookups(
        docker.DockerClient(base_url="unix:///tmp/nothing.sock", version="1.41")
    )
    assert local.api.trust_env is False
    remote = without_proxy_lookups(
        docker.DockerClient(base_url="tcp://203.0.113.7:2376", version="1.41")
    )
    assert remote.api.trust_env is True  # a tcp:// engine may sit behind a proxy
