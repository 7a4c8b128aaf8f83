#!/usr/bin/env bash
# Smoke test of the Workerman stand-in (test/workerman-stub) with the demo app
# (examples/app). Copies the app to a temp dir, installs the stub as
# vendor/workerman-stub + vendor/autoload.php, and drives it through start,
# status, graceful and quick reloads, a pinned reload, a crash loop, the 4.x
# flavour, restart and stop. Exits non-zero when any check fails.
#
#   test/workerman-stub/smoke.sh            (ports 18481/18491 by default)
#   SMOKE_HTTP_PORT=18581 SMOKE_WS_PORT=18591 test/workerman-stub/smoke.sh
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SAMPLE=${WORKERMAN_SAMPLE:-/work/shared/workerman/samples/status-v5-three-groups.txt}
HTTP_PORT=${SMOKE_HTTP_PORT:-18481}
WS_PORT=${SMOKE_WS_PORT:-18491}
export APP_HTTP_PORT=$HTTP_PORT APP_WS_PORT=$WS_PORT
unset WORKERMAN_PID_FILE WORKERMAN_LOG_FILE WORKERMAN_STUB_VERSION WORKERMAN_STUB_CRASH_DELAY

WORK=$(realpath "$(mktemp -d /tmp/workerman-smoke.XXXXXX)")
APP=$WORK/app
PIDFILE=$APP/workerman.start.php.pid
LOG=$APP/workerman.log
FAILS=0
PASSES=0
SEEN_MASTERS=""

ok() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else fail "$desc"; fi; }
note() { echo "# $*"; }

wm() { (cd "$APP" && php start.php "$@"); }
master_pid() { cat "$PIDFILE" 2>/dev/null; }
# Worker pids of one group, sorted, space separated (children of the master only).
group_pids() {
    local m; m=$(master_pid); [ -n "$m" ] || return 0
    pgrep -P "$m" -f "^WorkerMan: worker process  $1 " | sort -n | tr '\n' ' ' | sed 's/ $//'
}
nwords() { echo $#; }
# running = exists and is not a zombie (pid 1 here may reap late)
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
# wait_until <seconds> <command...>: poll every 0.1 s
wait_until() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    while ! "$@"; do
        [ "$(date +%s%N)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}
# none of the pids in $1 is still a web worker, and there are 4 web workers
all_web_replaced() {
    local now; now=$(group_pids web)
    [ "$(nwords $now)" -eq 4 ] || return 1
    for p in $1; do case " $now " in *" $p "*) return 1 ;; esac; done
    return 0
}
body() { curl -s --max-time 3 "http://127.0.0.1:$HTTP_PORT${1:-/}"; }
all_bodies() { # all of 12 requests answer $1
    local i b
    for i in $(seq 12); do b=$(body /); [ "$b" = "$1" ] || return 1; done
}
status_json() { # status_json <flavour> <outfile>: run status, check shape, print JSON
    wm status > "$2" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || { echo "status exit code $rc" >&2; return 1; }
    if [ "$1" = 5 ]; then php "$HERE/status-shape.php" "$2" 5 "$SAMPLE"; else php "$HERE/status-shape.php" "$2" 4; fi
}
jq_php() { # jq_php '<php expression using $j>' <<< json
    php -r '$j = json_decode(stream_get_contents(STDIN), true); echo '"$1"', "\n";'
}

cleanup() {
    exec 3>&- 4>&- 2>/dev/null
    local m p
    for m in $SEEN_MASTERS $(master_pid) $(cat "$WORK/run/wm.pid" 2>/dev/null); do
        if alive "$m"; then kill -9 $(pgrep -P "$m") "$m" 2>/dev/null; fi
    done
    for p in $(pgrep -f "start_file=$APP/start.php"); do kill -9 $(pgrep -P "$p") "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ setup
if ss -ltn | grep -qE "127\.0\.0\.1:($HTTP_PORT|$WS_PORT) |\*:($HTTP_PORT|$WS_PORT) "; then
    echo "port $HTTP_PORT or $WS_PORT already in use"; exit 2
fi
cp -r "$ROOT/examples/app" "$APP"
rm -rf "$APP/vendor" && mkdir -p "$APP/vendor"
cp -r "$HERE" "$APP/vendor/workerman-stub"
cp "$HERE/vendor-autoload.php" "$APP/vendor/autoload.php"
cp "$APP/src/handler.php" "$WORK/handler.good.php"
note "app in $APP, ports $HTTP_PORT/$WS_PORT"

# ------------------------------------------------------------------ start -d
out=$(cd "$APP" && timeout 10 php start.php start -d 2>&1 | cat); rc=${PIPESTATUS[0]}
check "start -d exits 0 and releases stdout (rc=$rc)" test "$rc" -eq 0
check "start -d prints 'Workerman[start.php] start in DAEMON mode'" grep -qx 'Workerman\[start.php\] start in DAEMON mode' <<< "$out"
check "pid file written at <app>/workerman.start.php.pid" test -s "$PIDFILE"
MASTER=$(master_pid); SEEN_MASTERS="$SEEN_MASTERS $MASTER"
check "master alive" alive "$MASTER"
check "master title" test "$(ps -o args= -p "$MASTER")" = "WorkerMan: master process  start_file=$APP/start.php"
wait_until 5 eval '[ "$(nwords $(group_pids web) $(group_pids gateway) $(group_pids task))" -eq 7 ]'
check "4 web + 2 gateway + 1 task workers, children of the master" \
    test "$(nwords $(group_pids web))/$(nwords $(group_pids gateway))/$(nwords $(group_pids task))" = 4/2/1
W1=$(group_pids web | cut -d' ' -f1)
check "web worker title" test "$(ps -o args= -p "$W1")" = "WorkerMan: worker process  web http://127.0.0.1:$HTTP_PORT"
check "gateway worker title" test "$(ps -o args= -p "$(group_pids gateway | cut -d' ' -f1)")" = "WorkerMan: worker process  gateway websocket://127.0.0.1:$WS_PORT"
check "task worker title" test "$(ps -o args= -p "$(group_pids task)")" = "WorkerMan: worker process  task none"
out=$(wm start -d 2>&1); rc=$?
check "second start: 'already running', exit 0" test "$rc/$(tail -1 <<< "$out")" = "0/Workerman[start.php] already running"

# ------------------------------------------------------------------ status
js=$(status_json 5 "$WORK/status1.txt"); rc=$?
check "status (v5) has the sample's shape" test $rc -eq 0
check "status rows: web 4, gateway 2, task 1" test "$(jq_php '$j["groups"]["web"]."/".$j["groups"]["gateway"]."/".$j["groups"]["task"]' <<< "$js")" = 4/2/1
check "status file beside the pid file" test -f "$APP/workerman.start.php.status"
note "status output:"; sed 's/^/#   /' "$WORK/status1.txt"

# ------------------------------------------------------------------ serving
check "GET / answers 'hello from v1'" test "$(body /)" = "hello from v1"
pid_hdr=$(curl -s -D - -o /dev/null "http://127.0.0.1:$HTTP_PORT/" | tr -d '\r' | sed -n 's/^X-Worker-Pid: //p')
check "X-Worker-Pid is a web worker pid ($pid_hdr)" grep -qw "$pid_hdr" <<< "$(group_pids web)"
check "HTTP keep-alive: curl re-uses the connection" \
    test "$(curl -sv "http://127.0.0.1:$HTTP_PORT/" "http://127.0.0.1:$HTTP_PORT/" 2>&1 | grep -ci 're-using existing')" -ge 1
ws_reply=$(php -r '
    $s = stream_socket_client("tcp://127.0.0.1:" . $argv[1], $e, $es, 3);
    fwrite($s, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    $h = ""; while (strpos($h, "\r\n\r\n") === false && !feof($s)) { $h .= fread($s, 1); }
    if (strpos($h, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") === false) { echo "bad handshake"; exit; }
    $p = "hi"; $m = "abcd"; fwrite($s, chr(0x81) . chr(0x80 | strlen($p)) . $m . ($p ^ str_pad("", strlen($p), $m)));
    stream_set_timeout($s, 3); $f = fread($s, 2); $n = ord($f[1]) & 0x7f; echo fread($s, $n);' "$WS_PORT")
check "websocket handshake + echo ('$ws_reply')" test "$ws_reply" = "echo: hi"

# ------------------------------------------------------------------ reload -g (v2)
WEB0=$(group_pids web); GW0=$(group_pids gateway); TASK0=$(group_pids task)
echo "<?php return 'v2';" > "$APP/src/version.php"
out=$(wm reload -g 2>&1); rc=$?
check "reload -g exits 0 at once and prints 'Workerman[start.php] reload'" test "$rc/$out" = "0/Workerman[start.php] reload"
check "all 4 web workers replaced after reload -g" wait_until 10 all_web_replaced "$WEB0"
check "gateway (reloadable=false) keeps its pids" test "$(group_pids gateway)" = "$GW0"
check "task replaced" wait_until 5 eval '[ -n "$(group_pids task)" ] && [ "$(group_pids task)" != "$TASK0" ]'
check "every request now answers 'hello from v2'" all_bodies "hello from v2"
check "log: 'pid:N Workerman[start.php] reload' (command) and '... reloading' (master)" \
    eval "grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} pid:[0-9]+ Workerman\[start\.php\] reload$' '$LOG' && grep -qE '^[0-9-]+ [0-9:]+ pid:$MASTER Workerman\[start\.php\] reloading$' '$LOG'"
js=$(status_json 5 "$WORK/status2.txt")
check "exit rows after one reload: web 0x4, gateway 0x0, task 0x1" \
    test "$(jq_php 'implode(",", array_map(fn($r) => $r["name"].":".$r["exit_status"]."x".$r["exit_count"], $j["exit"]))' <<< "$js")" = "web:0x4,gateway:0x0,task:0x1"

# ------------------------------------------------------------------ pinned graceful reload (v3)
exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&3
PINNED=""; CL=0
while IFS= read -r -t 3 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case "$line" in X-Worker-Pid:*) PINNED=${line#X-Worker-Pid: } ;; Content-Length:*) CL=${line#Content-Length: } ;; esac
done
[ "$CL" -gt 0 ] && read -r -t 3 -N "$CL" _ <&3
check "keep-alive client served by web worker $PINNED" grep -qw "$PINNED" <<< "$(group_pids web)"
exec 4<>"/dev/tcp/127.0.0.1/$WS_PORT"   # idle raw TCP client on the websocket port
sleep 0.3
js=$(status_json 5 "$WORK/status3.txt")
check "status: pinned web worker shows 1 connection" test "$(jq_php 'implode(",", array_map(fn($r) => $r["pid"].":".$r["connections"], array_filter($j["rows"], fn($r) => $r["pid"] == '"$PINNED"')))' <<< "$js")" = "$PINNED:1"
check "status: the idle raw TCP client counts as 1 gateway connection" test "$(jq_php 'array_sum(array_map(fn($r) => $r["connections"], array_filter($j["rows"], fn($r) => $r["name"] == "gateway")))' <<< "$js")" = 1
WEB1=$(group_pids web)
echo "<?php return 'v3';" > "$APP/src/version.php"
nreloading=$(grep -c 'Workerman\[start.php\] reloading' "$LOG")
wm reload -g > /dev/null
sleep 1; SNAP1=$(group_pids web); sleep 3; SNAP2=$(group_pids web)
check "pinned reload -g: no web pid changes for 3 s ($SNAP2)" test "$SNAP1" = "$WEB1" -a "$SNAP2" = "$WEB1"
check "pinned worker $PINNED still alive" alive "$PINNED"
check "new connections still served during the pinned reload" eval 'body / | grep -q "hello from"'
out=$(wm reload 2>&1); rc=$?
check "second (quick) reload exits 0" test $rc -eq 0
sleep 3
check "second reload changed nothing (ignored while reloading, no kill after stopTimeout)" test "$(group_pids web)" = "$WEB1"
check "master logged only one 'reloading' for the two signals" test "$(grep -c 'Workerman\[start.php\] reloading' "$LOG")" -eq $((nreloading + 1))
kill -INT "$PINNED"
check "SIGINT to the pinned worker unpins the reload: all web replaced" wait_until 10 all_web_replaced "$WEB1"
read -r -t 2 _ <&3; rc=$?
check "the pinned keep-alive connection was closed by the server" test $rc -eq 1
exec 3>&-
check "gateway still the same pids" test "$(group_pids gateway)" = "$GW0"
check "every request now answers 'hello from v3'" all_bodies "hello from v3"
exec 4>&-

# ------------------------------------------------------------------ quick reload, stuck worker -> SIGKILL after stopTimeout
curl -s --max-time 15 "http://127.0.0.1:$HTTP_PORT/busy?s=10" > /dev/null 2>&1 &
BUSY_CURL=$!
sleep 0.3
js=$(status_json 5 "$WORK/status4.txt"); rc=$?
check "status with a busy worker keeps the shape" test $rc -eq 0
check "busy worker shows as 'N/A ... [busy]'" test "$(jq_php 'count(array_filter($j["rows"], fn($r) => $r["status"] == "busy"))' <<< "$js")" = 1
WEB2=$(group_pids web)
wm reload > /dev/null
check "quick reload: stuck worker killed after stopTimeout ('exit with status 9')" \
    wait_until 10 grep -qE "^[0-9-]+ [0-9:]+ pid:$MASTER worker\[web:[0-9]+\] exit with status 9$" "$LOG"
check "quick reload completes" wait_until 10 all_web_replaced "$WEB2"
wait "$BUSY_CURL" 2>/dev/null

# ------------------------------------------------------------------ signals outside a reload
V=$(group_pids web | cut -d' ' -f1)
kill -TERM "$V"
check "v5: SIGTERM stops a worker" wait_until 3 eval "! alive $V"
check "... and the master re-forks it" wait_until 3 eval '[ "$(nwords $(group_pids web))" -eq 4 ]'
V=$(group_pids web | cut -d' ' -f1)
kill -KILL "$V"
check "SIGKILLed worker logged 'exit with status 9' and re-forked" \
    wait_until 3 eval "grep -q 'worker\[web:$V\] exit with status 9' '$LOG' && [ \"\$(nwords \$(group_pids web))\" -eq 4 ]"

# ------------------------------------------------------------------ crash loop
sed -i '1s/^<?php/<?php undefined_function_call();/' "$APP/src/handler.php"
WEB3=$(group_pids web)
wm reload -g > /dev/null
check "crash: 'worker[web:N] exit with status 64000' logged" \
    wait_until 10 grep -qE "^[0-9-]+ [0-9:]+ pid:$MASTER worker\[web:[0-9]+\] exit with status 64000$" "$LOG"
check "crash: the PHP error is logged with its stack trace" \
    eval "grep -A2 -E '^[0-9-]+ [0-9:]+ pid:[0-9]+ Error: Call to undefined function undefined_function_call\(\) in $APP/src/handler.php:1$' '$LOG' | grep -q '^Stack trace:$'"
check "crash: reload still 'completes' (no old web pid left)" wait_until 10 eval '! grep -qwE "$(echo $WEB3 | tr " " "|")" <<< "$(group_pids web)"'
js=$(status_json 5 "$WORK/status5.txt"); rc=$?
c1=$(jq_php 'array_sum(array_map(fn($r) => $r["exit_count"], array_filter($j["exit"], fn($r) => $r["name"] == "web" && $r["exit_status"] == 64000)))' <<< "$js")
sleep 2
js=$(status_json 5 "$WORK/status6.txt"); rc2=$?
c2=$(jq_php 'array_sum(array_map(fn($r) => $r["exit_count"], array_filter($j["exit"], fn($r) => $r["name"] == "web" && $r["exit_status"] == 64000)))' <<< "$js")
check "crash loop: status keeps its shape" test "$rc$rc2" = 00
check "crash loop: web exit_status 64000 count rises ($c1 -> $c2)" test "$c2" -gt "$c1" -a "$c1" -gt 0
note "crash-loop status:"; sed 's/^/#   /' "$WORK/status6.txt"
check "crash loop: nothing answers" eval '! curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/" | grep -q hello'
cp "$WORK/handler.good.php" "$APP/src/handler.php"
wm reload > /dev/null
check "fixed code + reload: serving again" wait_until 15 eval 'body / | grep -qx "hello from v3"'

# ------------------------------------------------------------------ stop
WORKERS=$(echo $(group_pids web) $(group_pids gateway) $(group_pids task))
out=$(wm stop 2>&1); rc=$?
check "stop exits 0 and prints 'stop success'" test "$rc/$(tail -1 <<< "$out")" = "0/Workerman[start.php] stop success"
check "master gone" eval "! alive $MASTER"
check "all workers gone" eval 'for p in $WORKERS; do alive $p && exit 1; done; true'
check "pid file removed" test ! -e "$PIDFILE"
for cmd in reload "reload -g" status stop; do
    out=$(wm $cmd 2>&1); rc=$?
    check "'$cmd' with no master: 'not run', exit 0" test "$rc/$(tail -1 <<< "$out")" = "0/Workerman[start.php] not run"
done
out=$(wm bogus 2>&1); rc=$?
check "unknown command: usage, exit 64" test "$rc" -eq 64 -a -n "$(grep '^Usage: php start.php' <<< "$out")"

# ------------------------------------------------------------------ 4.x flavour, custom pid/log files, restart
mkdir -p "$WORK/run"
export WORKERMAN_STUB_VERSION=4 WORKERMAN_PID_FILE=$WORK/run/wm.pid WORKERMAN_LOG_FILE=$WORK/run/wm.log
PIDFILE=$WORK/run/wm.pid; LOG=$WORK/run/wm.log
out=$(wm start -d 2>&1); rc=$?
MASTER=$(master_pid); SEEN_MASTERS="$SEEN_MASTERS $MASTER"
check "v4: start -d with WORKERMAN_PID_FILE/LOG_FILE" test "$rc" -eq 0 -a -s "$PIDFILE" -a -s "$LOG"
wait_until 5 eval '[ "$(nwords $(group_pids web) $(group_pids gateway) $(group_pids task))" -eq 7 ]'
js=$(status_json 4 "$WORK/status-v4.txt"); rc=$?
check "v4: status has the 4.x shape" test $rc -eq 0
check "v4: status rows web 4, gateway 2, task 1" test "$(jq_php '$j["groups"]["web"]."/".$j["groups"]["gateway"]."/".$j["groups"]["task"]' <<< "$js")" = 4/2/1
check "v4: status file beside the pid file" test -f "$WORK/run/workerman.start.php.status"
note "v4 status output:"; sed 's/^/#   /' "$WORK/status-v4.txt"
V=$(group_pids web | cut -d' ' -f1)
kill -TERM "$V"; sleep 1.5
check "v4: SIGTERM ignored by a worker" alive "$V"
kill -INT "$V"
check "v4: SIGINT stops it" wait_until 3 eval "! alive $V"
out=$(wm restart -d 2>&1); rc=$?
NEWMASTER=$(master_pid); SEEN_MASTERS="$SEEN_MASTERS $NEWMASTER"
check "restart -d: exit 0, 'stop success', new master" \
    test "$rc" -eq 0 -a -n "$(grep -x 'Workerman\[start.php\] stop success' <<< "$out")" -a "$NEWMASTER" != "$MASTER"
check "restart -d: old master gone, new one alive" eval "! alive $MASTER && alive $NEWMASTER"
MASTER=$NEWMASTER
check "restart -d: 7 workers again" wait_until 5 eval '[ "$(nwords $(group_pids web) $(group_pids gateway) $(group_pids task))" -eq 7 ]'
check "restart -d: serving" wait_until 5 eval 'body / | grep -qx "hello from v3"'
out=$(wm stop -g 2>&1); rc=$?
check "stop -g: exit 0, 'stop success'" test "$rc/$(tail -1 <<< "$out")" = "0/Workerman[start.php] stop success"
check "stop -g: master gone, pid file removed" eval "! alive $MASTER && [ ! -e '$PIDFILE' ]"
check "no process of this app left" test -z "$(pgrep -f "start_file=$APP/start.php")"

echo
echo "# $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
