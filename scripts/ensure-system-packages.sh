#!/usr/bin/env bash
# Installs the system packages the test rig and the demo need (real sshd,
# rsync, php and Composer, which installs real Workerman for the tests), or
# stops with one line saying what to install.
set -euo pipefail

need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 && command -v ssh-keyscan >/dev/null 2>&1 || need+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
if ! command -v php >/dev/null 2>&1 || ! php -r 'exit(function_exists("pcntl_fork") && function_exists("posix_kill") ? 0 : 1);' 2>/dev/null; then
  need+=(php-cli)
fi
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v composer >/dev/null 2>&1 || need+=(composer)
# The example status worker's smoke script (run by the tests) uses curl and ss.
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
# The load-balancer tests and benchmark put a real HAProxy in front of rig hosts, driven through its admin socket.
command -v haproxy >/dev/null 2>&1 || command -v /usr/sbin/haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v socat >/dev/null 2>&1 || need+=(socat)
# The test command checks the shell programs sent to hosts (src/remote/*.sh) with shellcheck.
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)

if [ ${#need[@]} -eq 0 ]; then exit 0; fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi

echo "missing system packages: please install ${need[*]} (as root: apt-get install -y ${need[*]})" >&2
exit 1
