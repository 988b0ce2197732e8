#!/bin/bash
# The student's workstation at every start. Its root file system is read-only (the student
# has root through sudo and must not be able to fill the engine's disk: docs/security.md),
# so everything written here lands on tmpfs mounts:
# - /etc/shadow is a link to /run/labctl-auth/shadow: the image's file with the student's
#   password (LABCTL_STUDENT_PASSWORD, generated per instance by labctl) hashed in;
# - the SSH host key is LABCTL_SSH_HOST_KEY (per instance, from labctl, so it survives a
#   restart), else a new one;
# - the home (a sized tmpfs, empty at every start) is filled from /etc/skel and from the
#   files the lab left for the student in /usr/local/share/labctl/home (a read-only volume).
# Then run the command (sshd in the foreground).
set -euo pipefail
install -d -m 0755 /run/labctl-auth /run/labctl-ssh /run/sshd
if [[ -n ${LABCTL_STUDENT_PASSWORD:-} ]]; then
    hash=$(printf '%s' "$LABCTL_STUDENT_PASSWORD" | openssl passwd -6 -stdin)
    awk -F: -v OFS=: -v hash="$hash" '$1 == "student" { $2 = hash } 1' /etc/shadow.labctl \
        >/run/labctl-auth/shadow
else
    cp /etc/shadow.labctl /run/labctl-auth/shadow
fi
chown root:shadow /run/labctl-auth/shadow
chmod 0640 /run/labctl-auth/shadow

key=/run/labctl-ssh/ssh_host_ed25519_key
if [[ -n ${LABCTL_SSH_HOST_KEY:-} ]]; then
    (umask 077 && printf '%s\n' "$LABCTL_SSH_HOST_KEY" >"$key")
else
    # One Ed25519 key: RSA costs ~0.4 CPU-seconds, and a class starts at once.
    ssh-keygen -q -t ed25519 -N "" -f "$key"
fi

cp -a /etc/skel/. /home/student/
chown -R student:student /home/student
if [[ -d /usr/local/share/labctl/home ]]; then
    cp -a /usr/local/share/labctl/home/. /home/student/
fi
chown student:student /home/student  # `cp -a DIR/.` gave it DIR's owner and mode
chmod 0755 /home/student
if [[ -n ${LABCTL_STUDENT_KEY:-} ]]; then
    install -d -o student -g student -m 0700 /home/student/.ssh
    echo "${LABCTL_STUDENT_KEY}" >/home/student/.ssh/authorized_keys
    chown student:student /home/student/.ssh/authorized_keys
    chmod 0600 /home/student/.ssh/authorized_keys
fi
unset LABCTL_STUDENT_PASSWORD LABCTL_STUDENT_KEY LABCTL_SSH_HOST_KEY
exec "$@"
