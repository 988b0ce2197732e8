"""What an image says about itself that Kubernetes needs spelled out: its user and its
readiness test.

Docker runs an image as its ``USER`` and the Docker backend reads the readiness test from
the image's ``HEALTHCHECK`` (labctl.backends.docker.health). Kubernetes ignores both: a
pod that must run as non-root needs a numeric ``runAsUser`` (the kubelet cannot check a
user name), and readiness is a probe of the pod. Rendering is offline, with no engine to
inspect the image, so both are read from the Dockerfile the image is built from
(``containers/<role>/Dockerfile``): the one source the image itself comes from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labctl.errors import LabctlError

#: labctl's images: ``labctl/<role>:<tag>``, built from ``containers/<role>/``.
_IMAGE: Final = re.compile(r"^labctl/(?P<role>[a-z0-9-]+):")
_CONTINUED: Final = re.compile(r"\\\s*\n")
_HEALTHCHECK_CMD: Final = re.compile(r"^HEALTHCHECK\s.*?\bCMD\s+(?P<test>.+)$", re.DOTALL)


@dataclass(frozen=True)
class ImageFacts:
    #: The image's ``USER`` (None: root).
    user: str | None
    #: The ``HEALTHCHECK`` test as a command line (empty: none).
    readiness: tuple[str, ...]


def dockerfile_of(containers: Path, image: str) -> Path:
    """The Dockerfile ``image`` is built from, or LabctlError saying why there is none."""
    match = _IMAGE.match(image)
    if match is None:
        raise LabctlError(f"image {image!r} is not one of labctl's (labctl/<role>:<tag>)")
    path = containers / match["role"] / "Dockerfile"
    if not path.is_file():
        raise LabctlError(
            f"image {image}: {path} is missing; rendering reads the images' Dockerfiles,"
            " so run labctl from a source checkout"
        )
    return path


def image_facts(containers: Path, image: str) -> ImageFacts:
    """The user and readiness test of ``image``, from its Dockerfile."""
    return parse_dockerfile(dockerfile_of(containers, image).read_text(encoding="utf-8"))


def parse_dockerfile(text: str) -> ImageFacts:
    """The last ``USER`` and ``HEALTHCHECK`` of a Dockerfile (the ones that take effect)."""
    user: str | None = None
    readiness: tuple[str, ...] = ()
    for line in _CONTINUED.sub(" ", text).splitlines():
        words = line.strip()
        if words.startswith("USER "):
            user = words.split()[1]
        elif words.startswith("HEALTHCHECK NONE"):
            readiness = ()
        elif (match := _HEALTHCHECK_CMD.match(words)) is not None:
            readiness = _test_argv(match["test"].strip())
    return ImageFacts(user, readiness)


def _test_argv(test: str) -> tuple[str, ...]:
    """The exec form (a JSON list) as it is; the shell form as ``/bin/sh -c``."""
    if test.startswith("["):
        return tuple(str(word) for word in json.loads(test))
    return ("/bin/sh", "-c", test)
