#!/usr/bin/env bash
# A second Docker engine on this machine, joined to the machine's engine as a Swarm worker
# (docs/swarm.md): the swarm backend's multi-node tests and demos run on it.
#
#   bash scripts/swarm-node.sh up [N]     node N (2..254; default 2): namespace, engine, join,
#                                         lab images loaded; prints its engine address
#   bash scripts/swarm-node.sh stop [N]   leaves the swarm, stops that engine, removes its
#                                         namespace, veth, folders and socket
#   bash scripts/swarm-node.sh manager [local]
#                                         the machine's engine as a swarm manager (only);
#                                         `local`: advertising 127.0.0.1, one node for good
#   bash scripts/swarm-node.sh leave      the machine's engine leaves the swarm, and the
#                                         bridge below goes (after every node's stop)
#
# Layout. The node lives in a network namespace `labctl-node<N>` with a veth pair whose host
# end is enslaved to a bridge `labctl-swarm0` (10.214.0.1/24, no route anywhere else, no
# forwarding, no masquerading: nothing leaves the machine); the node's end is 10.214.0.N.
# The manager listens and advertises on 10.214.0.1, so 2377 (control), 7946 (gossip) and
# 4789 (VXLAN data) all run over that bridge. 10.214/16 is outside labctl's subnet pool
# (LABCTL_SUBNET_POOL, default 10.213.0.0/16) and the swarm's own default pool is not used
# for lab networks (labctl gives each one a subnet).
#
# The node's dockerd runs under `nsenter --net` (not `ip netns exec`, which remounts /sys
# without cgroups: dockerd refuses to start) with its own --data-root /var/lib/labctl-node<N>,
# --exec-root /run/labctl-node<N>, --pidfile, socket unix:///run/labctl-node<N>.sock and
# cgroup parent, like tests/security/engine.py. Both engines get a docker_gwbridge made
# before they enter the swarm, with published ports bound to 127.0.0.1, no masquerading and
# no traffic between containers: a gateway's published port is then on its node's loopback
# only, as with the docker backend.
#
# The node's engine address goes onto its swarm node as the label org.labctl.engine; the
# swarm backend reaches each node's engine there (this machine: the node's socket).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

BRIDGE=labctl-swarm0
#: What `manager` created on the machine's engine (`leave` removes only that).
MADE=/run/labctl-swarm0.made
BRIDGE_NET=10.214.0
MANAGER_ADDR=$BRIDGE_NET.1
ENGINE_LABEL=org.labctl.engine
IMAGE_TAGS=${LABCTL_NODE_IMAGES:-"0.1.0 dev-main"}

log() { printf '[swarm-node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

node_vars() {
    N=${1:-2}
    [[ $N =~ ^[0-9]+$ ]] && ((N >= 2 && N <= 254)) || die "node number must be 2..254, not $N"
    TAG=labctl-node$N
    NETNS=$TAG
    VETH_HOST=lnode$N-h
    VETH_NODE=lnode$N-n
    NODE_ADDR=$BRIDGE_NET.$N
    DATA_ROOT=/var/lib/$TAG
    EXEC_ROOT=/run/$TAG
    SOCKET=/run/$TAG.sock
    NODE_HOST=unix://$SOCKET
    NODE_LOG=/run/$TAG.log
}

# Processes whose command line holds $1 (this node's own paths), by pid.
kill_named_by() {
    local proc
    for proc in /proc/[0-9]*; do
        tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$1" && kill -KILL "${proc#/proc/}" 2>/dev/null
    done
    return 0
}

in_node() { nsenter --net="/run/netns/$NETNS" "$@"; }
node_docker() { DOCKER_HOST=$NODE_HOST docker "$@"; }
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' "$@"; }

ensure_bridge() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        log "bridge $BRIDGE $MANAGER_ADDR/24"
        echo bridge >>"$MADE"
        ip link add "$BRIDGE" type bridge
        ip addr add "$MANAGER_ADDR/24" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
}

# The gateway's published ports on 127.0.0.1 only; the bridge is made before the engine
# enters the swarm (the swarm makes a default one otherwise, bound to every address).
ensure_gwbridge() {  # ensure_gwbridge DOCKER_HOST
    DOCKER_HOST=$1 docker network inspect docker_gwbridge >/dev/null 2>&1 && return 0
    DOCKER_HOST=$1 docker network create --driver bridge \
        --opt com.docker.network.bridge.name=docker_gwbridge \
        --opt com.docker.network.bridge.enable_icc=false \
        --opt com.docker.network.bridge.enable_ip_masquerade=false \
        --opt com.docker.network.bridge.host_binding_ipv4=127.0.0.1 \
        docker_gwbridge >/dev/null
}

manager() {  # the machine's engine as a manager advertising on the bridge (or: local)
    if [[ ${1:-} == local ]]; then
        MANAGER_ADDR=127.0.0.1
    else
        ensure_bridge
    fi
    local state
    state=$(swarm_state)
    if [[ $state == active ]]; then
        local addr
        addr=$(docker info --format '{{.Swarm.NodeAddr}}')
        [[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] ||
            die "this engine is a swarm worker, not a manager"
        [[ $addr == "$MANAGER_ADDR" ]] ||
            log "the swarm already advertises $addr: a node in a namespace reaches only $MANAGER_ADDR"
        return 0
    fi
    docker network inspect docker_gwbridge >/dev/null 2>&1 || echo gwbridge >>"$MADE"
    ensure_gwbridge "unix:///var/run/docker.sock"
    echo swarm >>"$MADE"
    log "docker swarm init --advertise-addr $MANAGER_ADDR"
    docker swarm init --advertise-addr "$MANAGER_ADDR" --listen-addr "$MANAGER_ADDR:2377" \
        --data-path-addr "$MANAGER_ADDR" >/dev/null
    docker node update --label-add "$ENGINE_LABEL=unix:///var/run/docker.sock" \
        "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
}

start_node_engine() {
    if [[ ! -e /run/netns/$NETNS ]]; then
        log "namespace $NETNS, veth $VETH_HOST/$VETH_NODE, $NODE_ADDR/24"
        ip netns add "$NETNS"
        ip link add "$VETH_HOST" type veth peer name "$VETH_NODE"
        ip link set "$VETH_NODE" netns "$NETNS"
        ip link set "$VETH_HOST" master "$BRIDGE" up
        in_node ip link set lo up
        in_node ip addr add "$NODE_ADDR/24" dev "$VETH_NODE"
        in_node ip link set "$VETH_NODE" up
    fi
    mkdir -p -m 0700 "$DATA_ROOT" "$EXEC_ROOT"
    if ! node_docker info >/dev/null 2>&1; then
        log "dockerd $TAG (log: $NODE_LOG)"
        nohup nsenter --net="/run/netns/$NETNS" dockerd --data-root="$DATA_ROOT" \
            --exec-root="$EXEC_ROOT" --pidfile="$EXEC_ROOT/dockerd.pid" --host="$NODE_HOST" \
            --cgroup-parent="/$TAG" --iptables=true >>"$NODE_LOG" 2>&1 </dev/null &
        local deadline=$((SECONDS + 60))
        until node_docker info >/dev/null 2>&1; do
            ((SECONDS < deadline)) || { tail -n 20 "$NODE_LOG" >&2; die "dockerd $TAG did not answer"; }
            sleep 0.5
        done
    fi
}

join_node() {
    local state
    state=$(node_docker info --format '{{.Swarm.LocalNodeState}}')
    if [[ $state != active ]]; then
        ensure_gwbridge "$NODE_HOST"
        local token
        token=$(docker swarm join-token -q worker)
        log "joining $TAG to the swarm at $MANAGER_ADDR:2377"
        node_docker swarm join --token "$token" --advertise-addr "$NODE_ADDR" \
            --listen-addr "$NODE_ADDR:2377" --data-path-addr "$NODE_ADDR" "$MANAGER_ADDR:2377" >/dev/null
    fi
    local id
    id=$(node_docker info --format '{{.Swarm.NodeID}}')
    docker node update --label-add "$ENGINE_LABEL=$NODE_HOST" "$id" >/dev/null
}

load_images() {
    local wanted=() tag image started=$SECONDS
    for tag in $IMAGE_TAGS; do
        while read -r image; do
            node_docker image inspect "$image" >/dev/null 2>&1 || wanted+=("$image")
        done < <(docker images --format '{{.Repository}}:{{.Tag}}' "labctl/*:$tag")
    done
    ((${#wanted[@]})) || return 0
    log "loading ${#wanted[@]} image(s) into $TAG"
    docker save "${wanted[@]}" | node_docker load >/dev/null
    log "images loaded in $((SECONDS - started)) s"
}

up() {
    node_vars "${1:-2}"
    manager
    start_node_engine
    join_node
    load_images
    echo "$NODE_HOST"
}

stop() {
    node_vars "${1:-2}"
    local id=""
    if node_docker info >/dev/null 2>&1; then
        id=$(node_docker info --format '{{.Swarm.NodeID}}')
        node_docker swarm leave --force >/dev/null 2>&1 || true
    fi
    if [[ -n $id ]] && docker node inspect "$id" >/dev/null 2>&1; then
        local deadline=$((SECONDS + 20))
        until [[ $(docker node inspect --format '{{.Status.State}}' "$id") == down ]] ||
            ((SECONDS >= deadline)); do sleep 1; done
        docker node rm --force "$id" >/dev/null 2>&1 || true
    fi
    if [[ -f $EXEC_ROOT/dockerd.pid ]]; then
        local pid
        pid=$(cat "$EXEC_ROOT/dockerd.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    kill_named_by "$EXEC_ROOT/"  # its containerd and shims
    { grep -E " ($DATA_ROOT|$EXEC_ROOT)[/ ]" /proc/self/mountinfo || true; } | awk '{print $5}' |
        sort -r | while read -r point; do umount -l "$point" || true; done
    rm -rf "$DATA_ROOT" "$EXEC_ROOT" "$SOCKET" "$NODE_LOG"
    local cg
    for cg in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/"$TAG"; do
        [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    ip link del "$VETH_HOST" 2>/dev/null || true
    [[ -e /run/netns/$NETNS ]] && ip netns del "$NETNS"
    log "node $N removed"
}

made() { [[ -f $MADE ]] && grep -qx "$1" "$MADE"; }

leave() {
    if made swarm && [[ $(swarm_state) == active ]]; then docker swarm leave --force >/dev/null; fi
    if made gwbridge; then docker network rm docker_gwbridge >/dev/null 2>&1 || true; fi
    if made bridge && ip link show "$BRIDGE" >/dev/null 2>&1; then
        ls /sys/class/net/"$BRIDGE"/brif 2>/dev/null | grep -q . &&
            die "$BRIDGE still has nodes: stop them first"
        ip link del "$BRIDGE"
    fi
    rm -f "$MADE"
    log "removed what manager made (the swarm, docker_gwbridge, $BRIDGE)"
}

case ${1:-} in
    up) up "${2:-2}" ;;
    stop) stop "${2:-2}" ;;
    manager) manager "${2:-}" ;;
    leave) leave ;;
    *) die "usage: $0 up|stop [N] | manager | leave" ;;
esac
