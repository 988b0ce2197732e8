#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, and that debootstrap is there (the
# base image is bootstrapped locally, never pulled). On Debian as root: installs what is
# missing from Debian's packages (docker.io, debootstrap) and starts dockerd, saying what it
# does. Elsewhere it says what to install. Used by scripts/demo.sh and .ci/run (which
# sources it for its functions); run it by hand with `sudo bash scripts/engine.sh`.

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

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
    ensure_engine
    docker info --format 'engine {{.ServerVersion}}, storage driver {{.Driver}}, {{.NCPU}} CPUs' |
        sed 's/^/    /'
fi
