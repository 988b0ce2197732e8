#!/bin/bash
# Set the student's password from LABCTL_STUDENT_PASSWORD (generated per instance by labctl)
# and authorise LABCTL_STUDENT_KEY if given, make this container's own SSH host keys, then
# run the command (sshd in the foreground).
set -euo pipefail
if [[ -n ${LABCTL_STUDENT_PASSWORD:-} ]]; then
    echo "student:${LABCTL_STUDENT_PASSWORD}" | chpasswd
fi
# The home is a size-bounded tmpfs (docs/security.md), empty at every start: fill it from
# /etc/skel, then from the files the lab left for the student (their owners kept).
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
unset LABCTL_STUDENT_PASSWORD LABCTL_STUDENT_KEY
mkdir -p /run/sshd
chmod 0755 /run/sshd
# One host key, Ed25519 (the image's sshd_config.d names only it): every RSA key
# generation costs ~0.4 CPU-seconds, 35 students' instances start at once.
[[ -e /etc/ssh/ssh_host_ed25519_key ]] \
    || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
exec "$@"
