#!/bin/bash
# Start OpenSSH (it daemonises; tini, PID 1, reaps it), then run the ground-station daemon
# (the command) as the labctl user. When the daemon exits the container exits, and the
# restart policy brings the whole host back.
set -euo pipefail
install -d -m 0755 /run/sshd
install -d -o labctl -g labctl -m 0755 /run/labctl /var/lib/labctl/ground-station
# One host key, Ed25519 (the image's sshd_config.d names only it): every RSA key
# generation costs ~0.4 CPU-seconds, 35 students' instances start at once.
[[ -e /etc/ssh/ssh_host_ed25519_key ]] \
    || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
# /home is a sized tmpfs (docs/security.md), empty at every start: every login account
# gets its home back from /etc/skel (what was in it is gone; keys belong in /etc/ssh).
getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 && $6 ~ "^/home/" { print $1 ":" $6 }' |
    while IFS=: read -r user home; do
        if [[ ! -d $home ]]; then
            cp -a /etc/skel "$home"
            chown -R "$user": "$home"
            chmod 0750 "$home"
        fi
    done
# sshd logs into the container's output (rotated by the engine, docs/security.md), not
# a file on the writable layer that a brute force would grow without bound.
# Its sessions, not the service, are what the kernel kills first when a brute force
# fills the container's memory limit: sshd's children inherit this oom_score_adj (a
# higher value needs no privilege), the service keeps the default 0.
(echo 800 >/proc/self/oom_score_adj && exec /usr/sbin/sshd -E /proc/1/fd/2)
exec setpriv --reuid=labctl --regid=labctl --init-groups -- "$@"
