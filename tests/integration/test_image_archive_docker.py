"""The image archives labs publish are real images: the Docker engine loads them, a
container of one does not see a file a later layer deleted, and the archive, searched
as image_secrets_absent searches it, still holds it."""

from __future__ import annotations

import io
import secrets
import tarfile

import docker
import pytest

from labctl.range.imagearchive import Layer, build, read, secrets_in

pytestmark = pytest.mark.docker

KEY = bytes.fromhex("8899aabbccddeeff0011223344556677")


def test_docker_loads_the_archive_and_the_whiteout_hides_the_key(
    docker_client: docker.DockerClient,
) -> None:
    tag = f"labctl-test-image-archive-{secrets.token_hex(4)}:2.3.1"
    archive = build(
        tag,
        [
            Layer("ADD app", {"opt/gs/VERSION": "2.3.1\n"}),
            Layer("COPY keys/", {"etc/labctl/keys/uplink.key": KEY.hex() + "\n"}),
            Layer("RUN rm /etc/labctl/keys/uplink.key", delete=["etc/labctl/keys/uplink.key"]),
        ],
        cmd=["/nothing"],
    )
    images = docker_client.images.load(archive)
    container = None
    try:
        assert [i.tags for i in images] == [[tag]]
        history = [h.get("CreatedBy") for h in images[0].history()]
        assert history == ["RUN rm /etc/labctl/keys/uplink.key", "COPY keys/", "ADD app"]
        container = docker_client.containers.create(images[0].id)
        exported = b"".join(container.export())
        with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
            seen = set(tar.getnames())
        assert "opt/gs/VERSION" in seen
        assert "etc/labctl/keys/uplink.key" not in seen
        # what a container does not see, the archive still holds
        assert "etc/labctl/keys/uplink.key" not in read(archive).files()
        assert secrets_in(archive, {"key": KEY})
        # and what the engine saves back is an archive the reader takes and finds it in
        saved = b"".join(images[0].save(named=True))
        assert secrets_in(saved, {"key": KEY})
    finally:
        if container is not None:
            container.remove(force=True)
        docker_client.images.remove(tag, force=True)
