"""Kubernetes, on paper: an instance's plan rendered as the manifests it would need.

Not a registered backend: nothing here runs an instance or talks to a cluster. It is
the mapping of every Docker concept (docs/kubernetes.md) written as code, so that
``labctl k8s render`` shows what an instance would get and the tests can check it against
the Kubernetes schemas. Modules: :mod:`.meta` (names, label keys), :mod:`.images` (what a
Dockerfile says: user, readiness), :mod:`.security` (security contexts, Pod Security
levels, resources), :mod:`.files` (mounts, Secrets, ConfigMaps, the init container),
:mod:`.pods`, :mod:`.policies` (namespace, NetworkPolicies, access, quota) and
:mod:`.render`.
"""

from labctl.backends.kubernetes.images import ImageFacts, image_facts
from labctl.backends.kubernetes.render import (
    KINDS,
    KUBERNETES_VERSION,
    Manifest,
    render_instance,
    to_yaml,
)

__all__ = [
    "KINDS",
    "KUBERNETES_VERSION",
    "ImageFacts",
    "Manifest",
    "image_facts",
    "render_instance",
    "to_yaml",
]
