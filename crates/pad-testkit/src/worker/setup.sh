#!/bin/sh
# Runs as PID 1 of every worker container: creates the login and service users, installs
# this worker's host key, authorized key and sudo rule from /pad (copied in before the
# container starts), then becomes sshd.
set -eu
id deployer >/dev/null 2>&1 || useradd -m -s /bin/sh deployer
# Key only: `*` is no password, but not a locked account (sshd without PAM refuses `!`).
usermod -p '*' deployer
id airflow-svc >/dev/null 2>&1 || useradd -r -m -s /bin/sh airflow-svc
install -d -m 700 -o deployer -g deployer /home/deployer/.ssh
install -m 600 -o deployer -g deployer /pad/authorized_keys /home/deployer/.ssh/authorized_keys
install -m 600 /pad/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 644 /pad/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
install -m 644 /pad/sshd_config /etc/ssh/sshd_config
if [ -f /pad/sudoers ]; then
    install -m 440 /pad/sudoers /etc/sudoers.d/pad
else
    rm -f /etc/sudoers.d/pad
fi
# AIRFLOW_HOME (maybe a tmpfs mounted by docker): the service user's; /srv stays root's.
mkdir -p /srv/airflow
chown airflow-svc:airflow-svc /srv/airflow
chmod 755 /srv/airflow
mkdir -p /run/sshd
echo "worker $(hostname) ready"
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
