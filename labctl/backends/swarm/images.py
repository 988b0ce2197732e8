"""Lab images on a node: copied from labctl's own engine when the node lacks them.

No registry can be reached in a training room (nor here), so a node gets the images the
way an air-gapped machine does: ``docker save`` on labctl's engine streamed into the
node's ``docker load`` (the Engine API's /images/get with several names: shared layers
once, no file). The swarm is told nothing about images: each node runs what it holds
under the tag (swarm warns that it cannot pin a digest without a registry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import docker
import docker.errors

from labctl.backends.docker.arch import ARCH_LABEL, engine_arch
from labctl.backends.docker.engine import engine_call
from labctl.backends.docker.images import images_arch as one_arch
from labctl.errors import BackendError

CHUNK: Final = 1 << 20


def images_arch(client: docker.DockerClient, images: Sequence[str]) -> str | None:
    """The one architecture the ``images`` on labctl's engine are for (an unlabelled one,
    built before the label: the engine's own); None when they mix or one is missing
    (``up`` says which before any placement matters)."""
    labels: list[dict[str, str] | None] = []
    with engine_call("inspect the lab images"):
        for image in sorted(set(images)):
            try:
                found = client.images.get(image).labels or {}
            except docker.errors.ImageNotFound:
                return None
            labels.append({ARCH_LABEL: found.get(ARCH_LABEL) or engine_arch(client).name})
    return one_arch(labels)


def copy_missing(
    source: docker.DockerClient, target: docker.DockerClient, images: Sequence[str]
) -> list[str]:
    """Copy the ``images`` ``target`` lacks from ``source``; the ones copied."""
    missing = [image for image in images if not _has(target, image)]
    if not missing:
        return []
    with engine_call(f"copy {', '.join(missing)} to a swarm node"):
        api: Any = source.api
        response = api._get(api._url("/images/get"), params={"names": missing}, stream=True)
        api._raise_for_status(response)
        loader: Any = target.api
        for event in loader.load_image(response.iter_content(chunk_size=CHUNK)):
            if "error" in event:
                raise BackendError("copy images to a swarm node", str(event["error"]))
    return missing


def _has(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True
