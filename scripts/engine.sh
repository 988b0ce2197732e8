#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, and that debootstrap is there (the
# base image is bootstrapped locally, never pulled). On Debian as root: installs what is
# missing from Debian's packages (docker.io, debootstrap) and starts dockerd, saying what it
# does. Elsewhere it says what to install. Used by scripts/demo.sh and .ci/run (which
# sources it for its functions); run it by hand with `sudo bash scripts/engine.sh`, and
# `sudo bash scripts/engine.sh --arm64` to run arm64 images under emulation (docs/arm64.md).

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
ENGINE_WAIT_S=${ENGINE_WAIT_S:-60}

log() { printf '[engine %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

engine_answers() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }

can_install() { [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; }

install_missing() {  # install_missing PROGRAM:PACKAGE...
    local wanted missing=()
    for wanted in "$@"; do
        command -v "${wanted%%:*}" >/dev/null || missing+=("${wanted#*:}")
    done
    ((${#missing[@]} == 0)) && return 0
    # shellcheck disable=SC2207 # package names have no spaces
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    log "installing ${missing[*]} from Debian's packages (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null
}

start_engine() {
    local deadline=$((SECONDS + ENGINE_WAIT_S)) pid=""
    if pgrep -x dockerd >/dev/null; then
        log "a dockerd is already running; waiting for it to answer"
    else
        log "starting dockerd (log: $DOCKERD_LOG)"
        nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
        pid=$!
    fi
    until engine_answers; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            log "dockerd exited; last lines of $DOCKERD_LOG:"
            tail -n 40 "$DOCKERD_LOG" || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "no answer from the engine after ${ENGINE_WAIT_S}s; last lines of $DOCKERD_LOG:"
            tail -n 40 "$DOCKERD_LOG" || true
            return 1
        fi
        sleep 1
    done
}

ensure_engine() {  # the engine answers afterwards, or the reason is printed (status 1)
    if engine_answers; then
        command -v debootstrap >/dev/null || ! can_install || install_missing debootstrap:debootstrap
        return 0
    fi
    if ! can_install; then
        log "no Docker engine answers here. As root on Debian, run: sudo bash scripts/engine.sh"
        log "(elsewhere: install and start Docker Engine, and debootstrap, then run this again)"
        return 1
    fi
    install_missing dockerd:docker.io docker:docker.io debootstrap:debootstrap
    engine_answers || start_engine
}

BINFMT_DIR=/proc/sys/fs/binfmt_misc

# The kernel runs arm64 programs through qemu (binfmt_misc, F flag: in containers too), so
# that `labctl images build --arch arm64` and arm64 images work on an x86-64 machine
# (docs/arm64.md). As root on Debian: installs qemu-user-static and binfmt-support, mounts
# binfmt_misc when it is not, enables the qemu-aarch64 entry; status 1 when it stays off.
enable_arm64_emulation() {
    if [[ $(head -n 1 "$BINFMT_DIR/qemu-aarch64" 2>/dev/null) == enabled ]]; then
        log "arm64 emulation is on ($BINFMT_DIR/qemu-aarch64)"
        return 0
    fi
    if ! can_install; then
        log "arm64 emulation is off. As root on Debian: apt-get install qemu-user-static binfmt-support"
        return 1
    fi
    install_missing qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support
    [[ -e $BINFMT_DIR/register ]] || mount -t binfmt_misc binfmt_misc "$BINFMT_DIR"
    update-binfmts --enable qemu-aarch64 || true
    # registered but switched off (echo 0): update-binfmts thinks it is on and leaves it
    if [[ $(head -n 1 "$BINFMT_DIR/qemu-aarch64" 2>/dev/null) == disabled ]]; then
        echo 1 >"$BINFMT_DIR/qemu-aarch64" || true
    fi
    if [[ $(head -n 1 "$BINFMT_DIR/qemu-aarch64" 2>/dev/null) != enabled ]]; then
        log "arm64 emulation stays off: $BINFMT_DIR/qemu-aarch64 is not enabled"
        return 1
    fi
    log "arm64 emulation is on ($(sed -n 's/^flags: /flags /p' "$BINFMT_DIR/qemu-aarch64"))"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
    if [[ ${1:-} == --arm64 ]]; then  # sudo bash scripts/engine.sh --arm64
        enable_arm64_emulation
        exit
    fi
    ensure_engine
    docker info --format 'engine {{.ServerVersion}}, storage driver {{.Driver}}, {{.NCPU}} CPUs' |
        sed 's/^/    /'
fi
