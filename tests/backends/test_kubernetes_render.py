"""Kubernetes on paper: every lab of the catalog rendered for a student, each object
validated offline against the Kubernetes schemas (kubernetes-validate, strict), and the
properties that make it an instance checked against the plan it was made from. No
engine, no cluster."""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

# --import-mode=importlib puts no test directory on sys.path; the evaluator lives here.
sys.path.insert(0, str(Path(__file__).parent))

from netpol import PodRef, may_connect

from labctl.backends.base import GATEWAY_HOST, FileSpec, InstancePlan
from labctl.backends.kubernetes import KUBERNETES_VERSION, render_instance
from labctl.backends.kubernetes.files import is_secret
from labctl.backends.kubernetes.images import parse_dockerfile
from labctl.backends.kubernetes.render import lab_networks_of
from labctl.backends.kubernetes.security import (
    BASELINE_CAPABILITIES,
    LEVELS,
    pod_security,
    run_as,
)
from labctl.core.kubernetes import KubernetesApi, Rendered
from labctl.core.labs import LabsApi
from labctl.instances.lifecycle import HOST_KEY_ENV, PASSWORD_ENV

REPO = Path(__file__).resolve().parents[2]
LABS = sorted(p.parent.name for p in (REPO / "labs").glob("*/lab.yaml"))
#: The version the manifests are written for, and the newest whose schemas the package ships.
VERSIONS = (KUBERNETES_VERSION, kubernetes_validate.utils.latest_version())
INSTANCE = "labctl.org/instance"
PORTAL = PodRef("labctl", {"labctl.org/role": "portal"})
#: A label key: an optional DNS-subdomain prefix and a name of at most 63 characters.
LABEL_KEY = re.compile(
    r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@pytest.fixture(scope="module")
def api() -> KubernetesApi:
    return KubernetesApi(LabsApi(REPO / "labs"))


@pytest.fixture(scope="module")
def catalog(api: KubernetesApi) -> dict[str, Rendered]:
    return {lab: api.render(lab, "Ana Lima", seed=11) for lab in LABS}


def of_kind(rendered: Rendered, kind: str) -> list[dict[str, Any]]:
    return [m for m in rendered.manifests if m["kind"] == kind]


def pods(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in of_kind(rendered, "Pod")}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]


def test_the_catalog_is_rendered_whole() -> None:
    assert len(LABS) >= 17
    assert "tc-replay" in LABS


@pytest.mark.parametrize("lab", LABS)
def test_every_object_is_valid_against_the_kubernetes_schemas(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    assert {m["kind"] for m in rendered.manifests} >= {"Namespace", "Pod", "NetworkPolicy"}
    for manifest in rendered.manifests:
        for version in VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_strict_validation_refuses_what_kubernetes_would() -> None:
    """The check above can fail: an unknown field, or a wrong type, is refused."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
    pod["spec"] = {"containers": [{"name": "x", "image": "i", "readOnlyRoot": True}]}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("lab", LABS)
def test_the_stream_parses_back_to_the_same_objects(catalog: dict[str, Rendered], lab: str) -> None:
    assert list(yaml.safe_load_all(catalog[lab].yaml())) == list(catalog[lab].manifests)


@pytest.mark.parametrize("lab", LABS)
def test_everything_is_labelled_with_valid_keys(catalog: dict[str, Rendered], lab: str) -> None:
    plan = catalog[lab].plan
    for manifest in catalog[lab].manifests:
        meta = manifest["metadata"]
        assert meta["labels"][INSTANCE] == plan.instance_id
        assert meta["labels"]["labctl.org/managed"] == "true"
        assert meta["annotations"]["labctl.org/student"] == "Ana Lima"
        if manifest["kind"] != "Namespace":
            assert meta["namespace"] == f"labctl-{plan.instance_id}"
        for key, value in meta["labels"].items():
            assert LABEL_KEY.match(key), key
            assert len(key.rpartition("/")[0]) <= 253
            assert LABEL_VALUE.match(value), (key, value)


@pytest.mark.parametrize("lab", LABS)
def test_a_default_deny_covers_every_pod_both_ways(catalog: dict[str, Rendered], lab: str) -> None:
    deny = [
        p
        for p in of_kind(catalog[lab], "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1


@pytest.mark.parametrize("lab", LABS)
def test_pods_reach_exactly_the_peers_of_their_lab_networks(
    catalog: dict[str, Rendered], lab: str
) -> None:
    """Every ordered pair of pods, judged from the rendered policies alone, against the
    plan: a connection exists if and only if the two hosts share a lab network."""
    rendered = catalog[lab]
    plan = rendered.plan
    policies = of_kind(rendered, "NetworkPolicy")
    namespace = f"labctl-{plan.instance_id}"
    refs = {n: PodRef(namespace, p["metadata"]["labels"]) for n, p in pods(rendered).items()}
    networks = {h.name: set(h.networks) & lab_networks_of(plan) for h in plan.hosts}
    assert set(refs) == {h.name for h in plan.hosts if h.name != GATEWAY_HOST}
    for source, src in refs.items():
        for target, dst in refs.items():
            if source == target:
                continue
            expected = bool(networks[source] & networks[target])
            for port in (("UDP", 5101), ("TCP", 22)):
                assert may_connect(policies, src, dst, port) == expected, (source, target)


@pytest.mark.parametrize("lab", LABS)
def test_only_the_portal_gets_in_and_only_to_the_relayed_ports(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    plan = rendered.plan
    policies = of_kind(rendered, "NetworkPolicy")
    namespace = f"labctl-{plan.instance_id}"
    relayed = {(h, int(p.split("/")[0])) for h, p in plan.host(GATEWAY_HOST).forwards.values()}
    assert {h for h, _ in relayed} == {"attacker", "mission-control"}
    stranger = PodRef("labctl-other-student", {"labctl.org/role": "portal"})
    for name, pod in pods(rendered).items():
        ref = PodRef(namespace, pod["metadata"]["labels"])
        for port in (22, 8080, 10025):
            expected = (name, port) in relayed
            assert may_connect(policies, PORTAL, ref, ("TCP", port)) == expected, (name, port)
            assert not may_connect(policies, stranger, ref, ("TCP", port))
            assert not may_connect(policies, ref, PORTAL, ("TCP", port))
            assert not may_connect(policies, ref, stranger, ("TCP", port))


@pytest.mark.parametrize("lab", LABS)
def test_dns_is_the_only_way_out(catalog: dict[str, Rendered], lab: str) -> None:
    rendered = catalog[lab]
    policies = of_kind(rendered, "NetworkPolicy")
    namespace = f"labctl-{rendered.plan.instance_id}"
    dns = PodRef("kube-system", {"k8s-app": "kube-dns"})
    elsewhere = PodRef("kube-system", {"k8s-app": "metrics-server"})
    for pod in pods(rendered).values():
        ref = PodRef(namespace, pod["metadata"]["labels"])
        assert may_connect(policies, ref, dns, ("UDP", 53))
        assert may_connect(policies, ref, dns, ("TCP", 53))
        assert not may_connect(policies, ref, dns, ("TCP", 443))
        assert not may_connect(policies, ref, elsewhere, ("UDP", 53))


@pytest.mark.parametrize("lab", LABS)
def test_containers_are_confined_as_the_plan_says_and_never_privileged(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    for name, pod in pods(rendered).items():
        host = rendered.plan.host(name)
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(pod):
            security = container["securityContext"]
            assert security["privileged"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert tuple(security["capabilities"].get("add", ())) == host.capabilities
            assert security["allowPrivilegeEscalation"] is not host.no_new_privileges
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        main = pod["spec"]["containers"][0]["securityContext"]
        assert main["readOnlyRootFilesystem"] is host.read_only


@pytest.mark.parametrize("lab", LABS)
def test_every_container_has_the_plans_limits(catalog: dict[str, Rendered], lab: str) -> None:
    rendered = catalog[lab]
    for name, pod in pods(rendered).items():
        limits = rendered.plan.host(name).limits
        assert pod["metadata"]["annotations"]["labctl.org/pids-limit"] == str(limits.pids)
        for container in containers(pod):
            resources = container["resources"]
            assert resources["limits"]["memory"] == f"{limits.memory_mib}Mi"
            assert resources["limits"]["cpu"] == f"{round(limits.cpus * 1000)}m"
            assert set(resources["limits"]) == {"cpu", "memory", "ephemeral-storage"}
            assert set(resources["requests"]) == set(resources["limits"])
    (quota,) = of_kind(rendered, "ResourceQuota")
    total = sum(h.limits.memory_mib for h in rendered.plan.hosts if h.name != GATEWAY_HOST)
    assert int(quota["spec"]["hard"]["limits.memory"].removesuffix("Mi")) > total
    assert quota["spec"]["hard"]["services.nodeports"] == "0"
    assert quota["spec"]["hard"]["services.loadbalancers"] == "0"
    assert quota["spec"]["hard"]["persistentvolumeclaims"] == "0"


def _restricted(pod: dict[str, Any]) -> bool:
    """The Pod Security Standard "restricted", checked on the rendered pod itself."""
    pod_context = pod["spec"]["securityContext"]
    for container in containers(pod):
        security = container["securityContext"]
        seccomp = security.get("seccompProfile") or pod_context.get("seccompProfile")
        if not (
            security.get("runAsNonRoot") is True
            and security.get("runAsUser") != 0
            and security.get("allowPrivilegeEscalation") is False
            and security["capabilities"]["drop"] == ["ALL"]
            and set(security["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}
            and seccomp == {"type": "RuntimeDefault"}
        ):
            return False
    return True


def _baseline(pod: dict[str, Any]) -> bool:
    return all(
        not c["securityContext"]["privileged"]
        and set(c["securityContext"]["capabilities"].get("add", [])) <= BASELINE_CAPABILITIES
        for c in containers(pod)
    )


@pytest.mark.parametrize("lab", LABS)
def test_pod_security_levels_are_earned_never_claimed(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    levels = {}
    for name, pod in pods(rendered).items():
        level = pod["metadata"]["labels"]["labctl.org/pod-security"]
        levels[name] = level
        assert (level == "restricted") == _restricted(pod), name
        assert (level in ("restricted", "baseline")) == _baseline(pod), name
        if level != "restricted":
            assert pod["metadata"]["annotations"]["labctl.org/pod-security-reason"]
    # The services run as the labctl user with nothing added; the student's workstation
    # needs raw sockets, which no standard but "privileged" allows.
    assert levels["spacecraft"] == levels["rf-link"] == "restricted"
    assert levels["attacker"] == "privileged"
    (namespace,) = of_kind(rendered, "Namespace")
    labels = namespace["metadata"]["labels"]
    enforce = max(levels.values(), key=LEVELS.index)
    assert labels["pod-security.kubernetes.io/enforce"] == enforce
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == f"v{KUBERNETES_VERSION}"


def _secret_values(plan: InstancePlan) -> list[bytes]:
    values = [
        value.encode()
        for host in plan.hosts
        for value in host.environment.values()
        if value not in (plan.instance_id, plan.lab)
    ]
    values += [
        spec.content
        for host in plan.hosts
        for path, spec in host.files.items()
        if spec.content is not None and is_secret(path, spec)
    ]
    return values


@pytest.mark.parametrize("lab", LABS)
def test_secrets_travel_only_in_secrets(catalog: dict[str, Rendered], lab: str) -> None:
    rendered = catalog[lab]
    attacker = rendered.plan.host("attacker").environment
    secrets = _secret_values(rendered.plan)
    assert attacker[PASSWORD_ENV].encode() in secrets
    assert attacker[HOST_KEY_ENV].encode() in secrets
    assert len(secrets) >= 4  # the password, the host key, two SDLS keys
    in_secrets = "\n".join(
        value for s in of_kind(rendered, "Secret") for value in s["data"].values()
    )
    others = yaml.safe_dump_all([m for m in rendered.manifests if m["kind"] != "Secret"])
    for value in secrets:
        assert base64.b64encode(value).decode() in in_secrets
        for line in value.decode().strip().splitlines():
            assert line not in others
    for pod in pods(rendered).values():
        for container in containers(pod):
            for variable in container.get("env", []):
                assert variable.get("value", "").encode() not in secrets


@pytest.mark.parametrize("lab", LABS)
def test_files_are_installed_with_the_plans_mode_and_owner(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    for name, pod in pods(rendered).items():
        host = rendered.plan.host(name)
        if not host.files:
            assert "initContainers" not in pod["spec"] or not any(
                "install " in c["command"][-1] for c in pod["spec"]["initContainers"]
            )
            continue
        (prepare,) = pod["spec"]["initContainers"]
        script = prepare["command"][-1]
        mounted = {m["mountPath"]: m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        staged = {m["name"]: m["mountPath"] for m in prepare["volumeMounts"]}
        for path, spec in host.files.items():
            holder = max((m for m in mounted if path.startswith(m)), key=len)
            target = staged[mounted[holder]] + path.removeprefix(holder)
            owned = f"-m {spec.mode:04o} -o {spec.uid} -g {spec.gid}"
            verb = "install -d" if spec.content is None else "install"
            assert re.search(rf"^{verb} {owned} (\S+ )?{re.escape(target)}$", script, re.M), path
        items = [
            item
            for source in next(v for v in pod["spec"]["volumes"] if "projected" in v)["projected"][
                "sources"
            ]
            for item in source["secret"]["items"]
        ]
        assert sorted(i["mode"] for i in items) == sorted(
            s.mode for s in host.files.values() if s.content is not None
        )


@pytest.mark.parametrize("lab", LABS)
def test_tmpfs_and_volumes_become_sized_empty_dirs(catalog: dict[str, Rendered], lab: str) -> None:
    rendered = catalog[lab]
    for name, pod in pods(rendered).items():
        host = rendered.plan.host(name)
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
        for path, options in host.tmpfs.items():
            empty = volumes[mounts[path]["name"]]["emptyDir"]
            assert empty["medium"] == "Memory"
            size = re.search(r"size=(\d+)m", options)
            assert size is not None
            assert empty["sizeLimit"] == f"{size[1]}Mi"
        for path in host.volumes:
            assert "medium" not in volumes[mounts[path]["name"]]["emptyDir"]
            assert mounts[path].get("readOnly", False) is (path in host.read_only_volumes)
            script = pod["spec"]["initContainers"][0]["command"][-1]
            assert f"cp -a {path}/. " in script  # seeded from the image, as Docker does


@pytest.mark.parametrize("lab", LABS)
def test_the_gateways_forwards_become_cluster_services(
    catalog: dict[str, Rendered], lab: str
) -> None:
    rendered = catalog[lab]
    forwards = rendered.plan.host(GATEWAY_HOST).forwards
    assert GATEWAY_HOST not in pods(rendered)
    services = {s["metadata"]["name"]: s["spec"] for s in of_kind(rendered, "Service")}
    assert all(s.get("type", "ClusterIP") == "ClusterIP" for s in services.values())
    for listen, (host, port) in forwards.items():
        spec = services[f"labctl-gateway-{host}"]
        assert spec["selector"]["labctl.org/host"] == host
        assert {
            "protocol": "TCP",
            "port": int(listen.split("/")[0]),
            "targetPort": int(port.split("/")[0]),
            "name": f"port-{port.split('/')[0]}",
        } in spec["ports"]
    for host in pods(rendered):
        assert services[host]["clusterIP"] == "None"  # its name on the lab networks


def test_readiness_comes_from_the_image(catalog: dict[str, Rendered]) -> None:
    rendered = catalog["tc-replay"]
    dockerfile = (REPO / "containers" / "ground-station" / "Dockerfile").read_text()
    expected = list(parse_dockerfile(dockerfile).readiness)
    probe = pods(rendered)["ground-station"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["exec"]["command"] == expected
    assert expected[:2] == ["labctl-listening", "tcp"]


def test_dockerfile_facts() -> None:
    text = (
        'FROM x\nUSER labctl\nHEALTHCHECK --interval=30s \\\n    CMD ["probe", "udp", "1"]\n'
        "USER root\n"
    )
    facts = parse_dockerfile(text)
    assert (facts.user, facts.readiness) == ("root", ("probe", "udp", "1"))
    assert parse_dockerfile("HEALTHCHECK CMD test -e /x\n").readiness == (
        "/bin/sh",
        "-c",
        "test -e /x",
    )
    assert parse_dockerfile('HEALTHCHECK CMD ["a"]\nHEALTHCHECK NONE\n').readiness == ()


def test_world_readable_files_go_to_a_config_map_and_keys_never(
    catalog: dict[str, Rendered], api: KubernetesApi
) -> None:
    plan = catalog["tc-replay"].plan
    motd = FileSpec(b"welcome aboard\n", mode=0o644)
    pem = FileSpec(b"-----BEGIN OPENSSH PRIVATE KEY-----\nx\n", mode=0o644)
    station = plan.host("ground-station")
    files = {**station.files, "/etc/labctl/keys/motd": motd, "/etc/labctl/keys/id": pem}
    hosts = tuple(replace(h, files=files) if h is station else h for h in plan.hosts)
    manifests = render_instance(replace(plan, hosts=hosts), api.images)
    (config,) = [m for m in manifests if m["kind"] == "ConfigMap"]
    assert config["data"] == {"etc-labctl-keys-motd": "welcome aboard\n"}
    (secret,) = [
        m
        for m in manifests
        if m["metadata"]["name"] == "ground-station-files" and m["kind"] == "Secret"
    ]
    assert set(secret["data"]) == {
        "etc-labctl-keys-uplink.key",
        "etc-labctl-keys-downlink.key",
        "etc-labctl-keys-id",
    }
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_rendering_makes_the_plan_up_makes(catalog: dict[str, Rendered]) -> None:
    """The student's password and host key, and one set of fresh keys shared by the
    spacecraft and its ground station: what labctl up hands the Docker backend."""
    plan = catalog["tc-replay"].plan
    assert plan.instance_id == "tc-replay-ana-lima"
    assert plan.labels["org.labctl.seed"] == "11"
    attacker = plan.host("attacker").environment
    assert len(attacker[PASSWORD_ENV]) >= 16
    assert "OPENSSH PRIVATE KEY" in attacker[HOST_KEY_ENV]
    keys = plan.host("spacecraft").files
    assert keys == plan.host("ground-station").files
    assert {spec.mode for spec in keys.values()} == {0o700, 0o600}


@pytest.mark.parametrize(
    ("capabilities", "user", "no_new_privileges", "level"),
    [
        ((), "labctl", True, "restricted"),
        (("NET_BIND_SERVICE",), "10001:10001", True, "restricted"),
        ((), "labctl", False, "baseline"),  # setuid sudo
        ((), None, True, "baseline"),  # root
        (("CHOWN",), "labctl", True, "baseline"),
        (("NET_RAW",), "labctl", True, "privileged"),
    ],
)
def test_the_level_follows_each_rule_of_the_standards(
    catalog: dict[str, Rendered],
    capabilities: tuple[str, ...],
    user: str | None,
    no_new_privileges: bool,
    level: str,
) -> None:
    host = replace(
        catalog["tc-replay"].plan.host("spacecraft"),
        capabilities=capabilities,
        no_new_privileges=no_new_privileges,
    )
    assert pod_security(host, run_as(user)).level == level


def test_the_manifests_in_the_docs_are_valid() -> None:
    """docs/kubernetes.md's whole manifests (the portal's Service and Ingress) cannot rot."""
    text = (REPO / "docs" / "kubernetes.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "apiVersion:" in b]
    documents = [d for block in blocks for d in yaml.safe_load_all(block)]
    assert {d["kind"] for d in documents} == {"Service", "Ingress"}
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    (service,) = [d for d in documents if d["kind"] == "Service"]
    assert service["spec"]["selector"] == PORTAL.labels
    assert service["metadata"]["namespace"] == PORTAL.namespace


def test_the_log_collector_runs_restricted(catalog: dict[str, Rendered]) -> None:
    insider = pods(catalog["insider"])
    assert insider["log-server"]["metadata"]["labels"]["labctl.org/pod-security"] == "restricted"
