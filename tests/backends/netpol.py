"""A small NetworkPolicy evaluator for the tests: who may open a connection to whom.

It follows the Kubernetes semantics for the constructs labctl renders (matchLabels
selectors, namespace and pod peers, ports) and refuses anything else, so a rendered
policy it cannot read fails the test instead of being judged wrongly:

- a pod is isolated for egress (ingress) when some policy of its namespace selects it
  with Egress (Ingress) in its policyTypes; an isolated pod sends (accepts) only what some
  such policy's rule allows; a pod no policy selects is not isolated;
- a connection needs both: the source's egress and the destination's ingress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class PodRef:
    namespace: str
    labels: Mapping[str, str]
    #: The namespace's labels beyond its name (Kubernetes adds the name itself).
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def ns_labels(self) -> dict[str, str]:
        return {**self.namespace_labels, NAMESPACE_NAME: self.namespace}


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    unknown = set(selector) - {"matchLabels"}
    if unknown:
        raise AssertionError(f"the evaluator cannot read selector keys {unknown}")
    wanted = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, pod: PodRef) -> bool:
    unknown = set(peer) - {"podSelector", "namespaceSelector"}
    if unknown:
        raise AssertionError(f"the evaluator cannot read peer keys {unknown}")
    if "namespaceSelector" in peer:
        namespace_ok = selects(peer["namespaceSelector"], pod.ns_labels())
    else:
        namespace_ok = pod.namespace == policy_namespace
    return namespace_ok and selects(peer.get("podSelector", {}), pod.labels)


def _port_matches(ports: Iterable[Mapping[str, Any]] | None, port: tuple[str, int]) -> bool:
    if not ports:
        return True
    return any((p.get("protocol", "TCP"), p["port"]) == port for p in ports)


def _allows(
    policies: list[Mapping[str, Any]],
    subject: PodRef,
    other: PodRef,
    port: tuple[str, int],
    direction: str,
) -> bool:
    kind, rules_key, peers_key = {
        "egress": ("Egress", "egress", "to"),
        "ingress": ("Ingress", "ingress", "from"),
    }[direction]
    applying = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and kind in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not applying:
        return True  # not isolated
    for policy in applying:
        for rule in policy["spec"].get(rules_key, []):
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                _peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
            )
            if peer_ok and _port_matches(rule.get("ports"), port):
                return True
    return False


def may_connect(
    policies: list[Mapping[str, Any]], source: PodRef, target: PodRef, port: tuple[str, int]
) -> bool:
    """Whether ``source`` may open a connection to ``target`` on ``port`` (protocol, n)."""
    return _allows(policies, source, target, port, "egress") and _allows(
        policies, target, source, port, "ingress"
    )
