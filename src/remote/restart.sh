# graceful-reload's restart of a Workerman app, run on the host as
#   sh -c "<this file>" restart MASTER_PID STOP_TIMEOUT_MS TARGET PHP START_FILE [TCP_PORT...]
#
# One command from the stop to the new listener, so no round trip sits in
# the window where the port is unserved. Why it is done this way, measured on
# Workerman 4.2 and 5.2:
# - SIGINT to the master (what `stop` sends, without starting PHP to read the
#   pid file): each worker closes its listener, finishes the request it is
#   running (signals are handled between events), closes its idle keep-alive
#   and WebSocket connections and exits. `stop -g` would wait for those idle
#   clients while the port accepts nothing.
# - A worker still running after STOP_TIMEOUT_MS (a long request) is killed.
# - The master counts as gone once it is a zombie: its sockets and pid file
#   are gone, and some init processes reap late.
# - `start -d` right after; then the new listeners are awaited in
#   /proc/net/tcp, so the report can say how long the port was unserved.
#
# Prints key=value lines, then `start-output:` and what `start -d` printed.
# Exit: 0 started (even when no listener came: the watch after this judges),
# 3 the master could not be signalled, 4 it did not stop, else start's exit.
set -u
master=$1 stop_ms=$2 target=$3 php=$4 start_file=$5
shift 5

now_ms() {
  t=$(date +%s%N)
  case $t in
    *N) echo $(($(date +%s) * 1000)) ;;
    *) echo $((t / 1000000)) ;;
  esac
}

alive() {
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  case $state in Z* | X*) return 1 ;; esac
  return 0
}

children() {
  cat /proc/"$1"/task/*/children 2>/dev/null
}

# Client connections the workers hold: established TCP sockets whose peer is
# not one of the app's own sockets (a BusinessWorker's link to its Gateway).
# `unknown` when a worker's descriptors cannot be read (another user's app).
client_connections() {
  inodes=''
  for p in "$@"; do
    fds=$(ls -l "/proc/$p/fd" 2>/dev/null) || { echo unknown; return; }
    inodes="$inodes $(printf '%s\n' "$fds" | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
  done
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v inodes="$inodes" '
    BEGIN { n = split(inodes, list, " "); for (i = 1; i <= n; i++) mine[list[i]] = 1 }
    ($10 in mine) { own[$2] = 1; if ($4 == "01") peer[$10] = $3 }
    END { count = 0; for (inode in peer) if (!(peer[inode] in own)) count++; print count }'
}

# Whether every given TCP port has a listening socket (state 0A).
listening() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v ports="$*" '
    BEGIN { n = split(ports, list, " "); for (i = 1; i <= n; i++) need[sprintf("%04X", list[i])] = 1 }
    $4 == "0A" { split($2, local, ":"); delete need[local[2]] }
    END { for (port in need) exit 1; exit 0 }'
}

# shellcheck disable=SC2046 # one PID a word
echo "connections=$(client_connections $(children "$master"))"
echo "signalled=$(now_ms)"
kill -s INT "$master" 2>/dev/null || { echo "signal-failed"; exit 3; }
deadline=$(($(now_ms) + stop_ms))
killed=0 give_up=''
while alive "$master"; do
  now=$(now_ms)
  if [ -z "$give_up" ] && [ "$now" -ge "$deadline" ]; then
    for p in $(children "$master"); do
      kill -s KILL "$p" 2>/dev/null && killed=$((killed + 1))
    done
    # The master exits once it has reaped its workers; one that does not is left for a person.
    give_up=$((now + 5000))
  fi
  if [ -n "$give_up" ] && [ "$now" -ge "$give_up" ]; then
    echo "killed=$killed"
    echo "not-stopped"
    exit 4
  fi
  sleep 0.005
done
echo "stopped=$(now_ms)"
echo "killed=$killed"

out=$(umask 077 && mktemp "${TMPDIR:-/tmp}/graceful-reload-start.XXXXXX") || exit 70
trap 'rm -f "$out"' EXIT HUP TERM
cd "$target" && "$php" "$start_file" start -d >"$out" 2>&1 </dev/null
rc=$?
echo "start-exit=$rc"
if [ "$rc" -eq 0 ] && [ $# -gt 0 ]; then
  limit=$(($(now_ms) + 10000))
  until listening "$@"; do
    [ "$(now_ms)" -ge "$limit" ] && break
    sleep 0.005
  done
  listening "$@" && echo "listening=$(now_ms)"
fi
echo "start-output:"
cat "$out"
exit "$rc"
