#!/usr/bin/env bash
# The yardstick the action is measured against (npm run bench): the deploy a
# careful engineer writes by hand for a Workerman app, on every host at once:
#   1. rsync -a --delete --delay-updates over OpenSSH (no file half new; the
#      runtime files excluded, so --delete leaves them);
#   2. one ssh session that notes the master's children (kept groups left
#      out), sends `php start.php reload -g`, and polls `pgrep -P <master>`
#      on the host every 100 ms until every old worker is gone and the count
#      is back.
# With -P, the earlier yardstick: the same rsync and reload, then a new ssh
# command every 100 ms to look (a handshake a poll).
# Exits non-zero when any host fails or its old workers outlive the wait.
#
# usage: careful-deploy.sh -k KEY -K KNOWN_HOSTS -s SOURCE -t TARGET
#                          [-u USER] [-x GROUP]... [-w SECONDS] [-P] HOST:PORT...
#   -x GROUP   a worker group that is not reloaded (reloadable = false), so
#              its workers are not waited for (repeatable)
#   -w SECONDS how long to wait for the old workers (default 60)
#   -P         poll from here, an ssh command a look
set -euo pipefail

user=root wait_s=60 key='' known_hosts='' source='' target='' kept=() polling=''
while getopts 'k:K:s:t:u:x:w:P' opt; do
  case $opt in
    k) key=$OPTARG ;;
    K) known_hosts=$OPTARG ;;
    s) source=$OPTARG ;;
    t) target=$OPTARG ;;
    u) user=$OPTARG ;;
    x) kept+=("$OPTARG") ;;
    w) wait_s=$OPTARG ;;
    P) polling=1 ;;
    *) echo "usage: $0 -k KEY -K KNOWN_HOSTS -s SOURCE -t TARGET [-u USER] [-x GROUP]... [-w SECONDS] [-P] HOST:PORT..." >&2; exit 2 ;;
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

# Runs on the host: notes the old workers, sends the reload, then (unless
# -P) waits for them in the same session; with -P it prints their PIDs.
reload_and_wait="
cd '$target' || exit 1
master=\$(cat workerman.start.php.pid) || exit 1
replaced() {
  for pid in \$(pgrep -P \"\$master\"); do
    title=\$(tr '\\0' ' ' < /proc/\$pid/cmdline 2>/dev/null) || continue
    case \"\$title\" in $kept_pattern) ;; *) printf '%s ' \"\$pid\" ;; esac
  done
}
old=\$(replaced)
[ -n \"\$old\" ] || { echo 'no workers to replace' >&2; exit 1; }
count=\$(echo \$old | wc -w)
php start.php reload -g >/dev/null
[ -n '$polling' ] && { echo \"\$old\"; exit 0; }
deadline=\$((\$(date +%s) + $wait_s))
while :; do
  sleep 0.1
  now=\" \$(replaced) \"
  left=0
  for pid in \$old; do case \"\$now\" in *\" \$pid \"*) left=1 ;; esac; done
  [ \$left -eq 0 ] && [ \$(echo \$now | wc -w) -ge \$count ] && exit 0
  [ \$(date +%s) -ge \$deadline ] && { echo \"old workers still running after ${wait_s}s\" >&2; exit 1; }
done
"

deploy_host() {
  local host=${1%:*} port=${1##*:}
  local ssh=(ssh -p "$port" -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null)
  rsync -a --delete --delay-updates --exclude=.git/ --exclude='*.pid' --exclude='*.log' --exclude='*.status' \
    -e "${ssh[*]}" "$source/" "$user@$host:$target/"
  if [[ -z $polling ]]; then
    "${ssh[@]}" "$user@$host" "$reload_and_wait" || { echo "$1: the reload was not proven" >&2; return 1; }
    return 0
  fi
  local old deadline=$((SECONDS + wait_s)) status
  old=$("${ssh[@]}" "$user@$host" "$reload_and_wait") || { echo "$1: no reload sent" >&2; return 1; }
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
