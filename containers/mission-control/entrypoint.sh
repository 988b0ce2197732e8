#!/bin/bash
# Start OpenSSH (operations engineers' logins; it daemonises, tini reaps it), then run
# mission control (the command) as the labctl user. When the server exits the container
# exits, and the restart policy brings the whole host back.
set -euo pipefail
install -d -m 0755 /run/sshd
install -d -o labctl -g labctl -m 0755 /run/labctl
[[ -e /etc/ssh/ssh_host_ed25519_key ]] \
    || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
# /home is a sized tmpfs, empty at every start: login accounts get their homes from /etc/skel.
getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 && $6 ~ "^/home/" { print $1 ":" $6 }' |
    while IFS=: read -r user home; do
        if [[ ! -d $home ]]; then
            cp -a /etc/skel "$home"
            chown -R "$user": "$home"
            chmod 0750 "$home"
        fi
    done
# Its sessions, not the service, are what the kernel kills first when a brute force
# fills the container's memory limit: sshd's children inherit this oom_score_adj (a
# higher value needs no privilege), the service keeps the default 0.
(echo 800 >/proc/self/oom_score_adj && exec /usr/sbin/sshd -E /proc/1/fd/2)
cd /var/lib/labctl
exec setpriv --reuid=labctl --regid=labctl --init-groups -- "$@"
