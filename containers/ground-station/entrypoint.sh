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
/usr/sbin/sshd -E /var/log/sshd.log
exec setpriv --reuid=labctl --regid=labctl --init-groups -- "$@"
