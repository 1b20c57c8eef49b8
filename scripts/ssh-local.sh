#!/usr/bin/env bash
# A local sshd and a second local user, the remote side of the ssh
# workers' tests: this user's key (made if missing) lets it in as that user
# on localhost, without a password or a host-key question.
#
#   scripts/ssh-local.sh start [--user NAME]   install, create, start (as root)
#   scripts/ssh-local.sh stop                  stop the sshd this script started
#   scripts/ssh-local.sh status                say whether NAME@localhost works
set -euo pipefail

user=maestro-remote
pidfile=/run/maestro-sshd.pid
say() { echo "[ssh-local] $*" >&2; }

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

works() {
    ssh -o BatchMode=yes -o ConnectTimeout=3 "$user@localhost" true 2>/dev/null
}

start() {
    [[ $(id -u) -eq 0 ]] || { say "start needs root (it adds a user and starts sshd)"; exit 1; }
    if ! command -v /usr/sbin/sshd >/dev/null || ! command -v ssh >/dev/null; then
        say "installing openssh-server and openssh-client"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            openssh-server openssh-client >/dev/null
    fi
    if ! id "$user" >/dev/null 2>&1; then
        say "adding user $user"
        useradd --create-home --shell /bin/sh "$user"
    fi
    local key=$HOME/.ssh/id_ed25519
    mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh"
    [[ -f $key ]] || ssh-keygen -q -t ed25519 -N '' -f "$key"
    local home
    home=$(getent passwd "$user" | cut -d: -f6)
    install -d -m 700 -o "$user" -g "$user" "$home/.ssh"
    touch "$home/.ssh/authorized_keys"
    grep -qxF "$(cat "$key.pub")" "$home/.ssh/authorized_keys" || cat "$key.pub" >>"$home/.ssh/authorized_keys"
    chown "$user:$user" "$home/.ssh/authorized_keys" && chmod 600 "$home/.ssh/authorized_keys"
    mkdir -p /run/sshd
    ssh-keygen -A >/dev/null
    if ! works; then
        if ! { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
            say "starting sshd"
            /usr/sbin/sshd -o PidFile="$pidfile"
        fi
        # Trust the host's key once, as a user would after checking it.
        for _ in $(seq 50); do
            ssh-keyscan -H localhost >>"$HOME/.ssh/known_hosts" 2>/dev/null && break
            sleep 0.1
        done
    fi
    works || { say "ssh $user@localhost still fails"; exit 1; }
    say "ready: ssh $user@localhost"
}

stop() {
    if [[ -f $pidfile ]]; then
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
        say "sshd stopped"
    fi
}

command=${1:-}
shift || true
while [[ $# -gt 0 ]]; do
    case "$1" in
        --user) user="${2:?--user needs a name}"; shift 2 ;;
        *) usage >&2; exit 2 ;;
    esac
done
case "$command" in
    start) start ;;
    stop) stop ;;
    status) if works; then say "ssh $user@localhost works"; else say "ssh $user@localhost fails"; exit 1; fi ;;
    *) usage >&2; exit 2 ;;
esac
