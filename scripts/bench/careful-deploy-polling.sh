#!/usr/bin/env bash
# The earlier yardstick, kept for comparison: a careful hand-written deploy
# that polls by opening a new ssh command every 100 ms (a handshake a poll):
#   1. rsync the source over OpenSSH, --delay-updates so no file is half new;
#   2. note the master's worker PIDs and send `php start.php reload -g`;
#   3. poll over ssh every 100 ms until all those old workers are gone.
# Exits non-zero when any host fails or its old workers outlive the timeout.
#
# usage: careful-deploy.sh -k KEY -K KNOWN_HOSTS -s SOURCE -t TARGET
#                          [-u USER] [-x GROUP]... [-w SECONDS] HOST:PORT...
#   -x GROUP   a worker group that is not reloaded (reloadable = false), so
#              its workers are not waited for (repeatable)
#   -w SECONDS how long to wait for the old workers (default 60)
set -euo pipefail

user=root wait_s=60 key='' known_hosts='' source='' target='' kept=()
while getopts 'k:K:s:t:u:x:w:' opt; do
  case $opt in
    k) key=$OPTARG ;;
    K) known_hosts=$OPTARG ;;
    s) source=$OPTARG ;;
    t) target=$OPTARG ;;
    u) user=$OPTARG ;;
    x) kept+=("$OPTARG") ;;
    w) wait_s=$OPTARG ;;
    *) echo "usage: $0 -k KEY -K KNOWN_HOSTS -s SOURCE -t TARGET [-u USER] [-x GROUP]... [-w SECONDS] HOST:PORT..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ -z $key || -z $known_hosts || -z $source || -z $target || $# -eq 0 ]]; then
  echo "$0: -k, -K, -s, -t and at least one HOST:PORT are required" >&2
  exit 2
fi

# The titles of kept groups, as a case pattern for the remote shell: "WorkerMan: worker process  gateway websocket://...".
kept_pattern='@none@'
for group in "${kept[@]}"; do kept_pattern+="|*\" $group \"*"; done

deploy_host() {
  local host=${1%:*} port=${1##*:}
  local ssh=(ssh -p "$port" -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null)

  # Runtime files (pid, log, status) are excluded, so --delete leaves them alone.
  rsync -az --delete --delay-updates --exclude=.git/ --exclude='*.pid' --exclude='*.log' --exclude='*.status' \
    -e "${ssh[*]}" "$source/" "$user@$host:$target/"

  # The old workers: the master's children (from its pid file), kept groups left out.
  local old
  old=$("${ssh[@]}" "$user@$host" "cd '$target' && master=\$(cat workerman.start.php.pid) && {
      for pid in \$(pgrep -P \"\$master\"); do
        title=\$(tr '\\0' ' ' < /proc/\$pid/cmdline 2>/dev/null) || continue
        case \"\$title\" in $kept_pattern) ;; *) printf '%s ' \"\$pid\" ;; esac
      done
      php start.php reload -g >/dev/null
    }")
  if [[ -z $old ]]; then echo "$1: no workers to replace" >&2; return 1; fi

  local deadline=$((SECONDS + wait_s)) status
  while :; do
    sleep 0.1
    status=0
    # Exit 0 once every old worker is gone, 1 while one lives; 255 is ssh failing.
    "${ssh[@]}" "$user@$host" "for pid in $old; do kill -0 \$pid 2>/dev/null && exit 1; done; exit 0" || status=$?
    if [[ $status -eq 0 ]]; then return 0; fi
    if [[ $status -ne 1 ]]; then echo "$1: ssh failed while polling (exit $status)" >&2; return 1; fi
    if ((SECONDS >= deadline)); then echo "$1: old workers still running after ${wait_s}s:$old" >&2; return 1; fi
  done
}

pids=()
for endpoint in "$@"; do
  deploy_host "$endpoint" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
