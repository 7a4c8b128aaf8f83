#!/usr/bin/env bash
# Smoke test of the graceful-reload status worker
# (examples/app/status/GracefulReloadStatus.php) in the demo app, run on real
# Workerman. Copies examples/app to a temp dir with a Composer vendor/ holding
# Workerman 4.x or 5.x, starts the app with APP_STATUS_PORT and checks the
# status JSON through start, a graceful reload with a new REVISION, a killed
# worker, a pinned graceful reload, a crash loop, stop, and the app without
# the status worker. Exits non-zero when any check fails.
#
#   examples/status/smoke.sh [DIR]   DIR holds vendor/ (default: the tests'
#                                    Workerman 5.2.2 in .cache/workerman/5.2.2,
#                                    installed by `node --import tsx test/rig/workerman-vendor.ts`)
#   (free ports in 18000-19999 on 127.0.0.1)
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENDOR_DIR=${1:-$ROOT/.cache/workerman/5.2.2}
if [ ! -f "$VENDOR_DIR/vendor/autoload.php" ]; then
    echo "no Workerman in $VENDOR_DIR/vendor: give a directory holding a Composer vendor/ with workerman/workerman" \
        "(the tests' copies: node --import tsx test/rig/workerman-vendor.ts)" >&2
    exit 2
fi
unset WORKERMAN_PID_FILE WORKERMAN_LOG_FILE APP_STATUS_REGISTRY_DIR

FAILS=0
PASSES=0
ok() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else fail "$desc"; fi; }
note() { echo "# $*"; }

# ------------------------------------------------------------------ ports
listening() { ss -ltnH 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$1\$"; }
PORTS=""
for _ in $(seq 500); do
    p=$((18000 + RANDOM % 2000))
    case " $PORTS " in *" $p "*) continue ;; esac
    listening "$p" || PORTS="$PORTS $p"
    [ "$(echo $PORTS | wc -w)" -eq 3 ] && break
done
read -r HTTP_PORT WS_PORT STATUS_PORT <<< "$PORTS"
[ -n "${STATUS_PORT:-}" ] || { echo "no free ports in 18000-19999"; exit 2; }
export APP_HTTP_PORT=$HTTP_PORT APP_WS_PORT=$WS_PORT APP_STATUS_PORT=$STATUS_PORT
URL=http://127.0.0.1:$STATUS_PORT/status

WORK=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/graceful-reload-status-smoke.${GR_SUITE_ID:+$GR_SUITE_ID.}XXXXXX")")
APP=$WORK/app
# PHP's temp dir (sys_get_temp_dir) for the app: the status worker's default
# registry lands in $WORK, and goes with it whatever happens.
export TMPDIR=$WORK
MASTER=""
REGISTRY=""

# Every process started from the app directory (the master, its workers,
# orphans of a killed master): frozen, then killed, until none is left.
app_processes() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(readlink "$d/cwd" 2>/dev/null)" = "$APP" ] && echo "${d#/proc/}"
    done
}
cleanup() {
    local i left
    for i in $(seq 100); do
        left=$(app_processes)
        [ -z "$left" ] && break
        kill -STOP $left 2>/dev/null
        kill -KILL $left 2>/dev/null
        sleep 0.05
    done
    [ -z "$(app_processes)" ] || echo "# cleanup: processes of $APP survived: $(app_processes)" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ helpers
wm() { (cd "$APP" && php start.php "$@"); }
# Workerman 5.x keeps the pid file and the log beside the start file, 4.x in vendor/workerman/.
pid_file() { local f; for f in "$APP/workerman.start.php.pid" "$APP"/vendor/workerman/*.pid; do [ -f "$f" ] && { echo "$f"; return; }; done; }
master_pid() { local f; f=$(pid_file); [ -n "$f" ] && cat "$f" 2>/dev/null; }
log_file() { local f; for f in "$APP/workerman.log" "$APP/vendor/workerman/workerman.log"; do [ -f "$f" ] && { echo "$f"; return; }; done; }
group_pids() { # pids of one group, children of the master, sorted
    local m; m=$(master_pid); [ -n "$m" ] || return 0
    pgrep -P "$m" -f "^WorkerMan: worker process  $1 " | sort -n | tr '\n' ' ' | sed 's/ $//'
}
nwords() { echo $#; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
wait_until() { # wait_until <seconds> <command...>
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    while ! "$@"; do
        [ "$(date +%s%N)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}
status() { curl -s --max-time 3 "$URL"; }
# q '<php expression using $j (the decoded JSON) and $w (its workers)>' <<< json
q() {
    php -r '$j = json_decode(stream_get_contents(STDIN), true); $w = is_array($j) ? ($j["workers"] ?? []) : [];
        $g = function ($name) use ($w) { return array_values(array_filter($w, function ($x) use ($name) { return ($x["name"] ?? "") === $name; })); };
        $pids = function ($name) use ($g) { $p = array_column($g($name), "pid"); sort($p); return implode(" ", $p); };
        $r = '"$1"'; echo is_bool($r) ? ($r ? "true" : "false") : $r, "\n";'
}
# every app worker process (by pgrep) is listed, nothing else but the status worker
listed_matches_processes() {
    local js; js=$(status)
    [ "$(q '$pids("web")' <<< "$js")" = "$(group_pids web)" ] &&
    [ "$(q '$pids("gateway")' <<< "$js")" = "$(group_pids gateway)" ] &&
    [ "$(q '$pids("task")' <<< "$js")" = "$(group_pids task)" ] &&
    [ "$(q '$pids("graceful-reload-status")' <<< "$js")" = "$(group_pids graceful-reload-status)" ] &&
    [ "$(q 'count($w)' <<< "$js")" = 8 ]
}
all_replaced() { # all_replaced <group> <count> <old pids>
    local now; now=$(group_pids "$1")
    [ "$(nwords $now)" -eq "$2" ] || return 1
    for p in $3; do case " $now " in *" $p "*) return 1 ;; esac; done
}

# ------------------------------------------------------------------ setup
cp -r "$ROOT/examples/app" "$APP"
rm -rf "$APP/vendor" "$APP"/workerman.* "$APP/REVISION"
cp -r "$VENDOR_DIR/vendor" "$APP/vendor"
cp "$APP/src/handler.php" "$WORK/handler.good.php"
REGISTRY=$(php -r 'echo rtrim(sys_get_temp_dir(), "/") . "/graceful-reload-status-" . md5($argv[1]);' "$APP/start.php")
VERSION=$(php -r 'require $argv[1]; echo Workerman\Worker::VERSION;' "$APP/vendor/autoload.php")
note "Workerman $VERSION; app in $APP, ports http $HTTP_PORT ws $WS_PORT status $STATUS_PORT, registry $REGISTRY"

# ------------------------------------------------------------------ start, rev1
echo rev1 > "$APP/REVISION"
out=$(wm start -d 2>&1); rc=$?
check "start -d with APP_STATUS_PORT (rc=$rc)" test "$rc" -eq 0
MASTER=$(master_pid)
check "master alive ($MASTER)" alive "$MASTER"
wait_until 5 eval '[ "$(nwords $(group_pids web) $(group_pids gateway) $(group_pids task) $(group_pids graceful-reload-status))" -eq 8 ]'
check "status worker is a child of the master, titled as a Workerman worker" \
    test "$(ps -o args= -p "$(group_pids graceful-reload-status)")" = "WorkerMan: worker process  graceful-reload-status http://127.0.0.1:$STATUS_PORT"
check "status URL answers with all 8 workers" wait_until 5 eval '[ "$(q "count(\$w)" <<< "$(status)")" = 8 ]'
JS=$(status)
note "status: $JS"
check "Content-Type: application/json" eval 'curl -s -D - -o /dev/null "$URL" | tr -d "\r" | grep -qix "content-type: application/json"'
check "master_pid = pid file ($MASTER)" test "$(q '$j["master_pid"]' <<< "$JS")" = "$MASTER"
check "4 web, 2 gateway, 1 task, 1 status worker" \
    test "$(q 'count($g("web"))."/".count($g("gateway"))."/".count($g("task"))."/".count($g("graceful-reload-status"))' <<< "$JS")" = 4/2/1/1
check "listed pids are exactly the master's worker processes, per group" listed_matches_processes
check "workers sorted by pid" test "$(q '(function ($p) { $s = $p; sort($s); return $p === $s; })(array_column($w, "pid"))' <<< "$JS")" = true
check "reloadable: web/task true, gateway/status false" \
    test "$(q 'count(array_filter($w, function ($x) { return $x["reloadable"] === !in_array($x["name"], ["gateway", "graceful-reload-status"]); }))' <<< "$JS")" = 8
check "started_at is a float on every worker, within the last minute" \
    test "$(q 'count(array_filter($w, function ($x) { return is_float($x["started_at"] ?? null) && abs(microtime(true) - $x["started_at"]) < 60; }))' <<< "$JS")" = 8
check "started_at has sub-second precision" test "$(q 'count(array_filter($w, function ($x) { return fmod($x["started_at"], 1.0) != 0.0; })) > 0' <<< "$JS")" = true
check "revision rev1 on all 7 app workers" \
    test "$(q 'count(array_filter($w, function ($x) { return ($x["revision"] ?? null) === "rev1"; }))' <<< "$JS")" = 7
check "status worker has no revision" test "$(q 'json_encode(array_key_exists("revision", $g("graceful-reload-status")[0]))' <<< "$JS")" = false
check "other path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STATUS_PORT/other")" = 404
check "POST: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")" = 405
check "status port bound to 127.0.0.1 only" eval 'ss -ltnH | awk "{print \$4}" | grep -qx "127.0.0.1:$STATUS_PORT" && ! ss -ltnH | awk "{print \$4}" | grep -qE "^(0\.0\.0\.0|\*|\[::\]):$STATUS_PORT\$"'
check "registry dir is mode 700" test "$(stat -c %a "$REGISTRY" 2>/dev/null)" = 700
check "registry holds 7 entries (status worker not among them)" test "$(ls "$REGISTRY" | grep -c '^[0-9]*\.json$')" = 7
check "app still serves ('hello from v1')" test "$(curl -s --max-time 3 "http://127.0.0.1:$HTTP_PORT/")" = "hello from v1"

# ------------------------------------------------------------------ reload -g, rev2
WEB0=$(group_pids web); GW0=$(group_pids gateway); TASK0=$(group_pids task); ST0=$(group_pids graceful-reload-status)
echo rev2 > "$APP/REVISION"
wm reload -g > /dev/null
check "reload -g: all web and the task worker replaced" \
    wait_until 15 eval 'all_replaced web 4 "$WEB0" && all_replaced task 1 "$TASK0"'
JS=$(status)
note "status: $JS"
check "after reload: listed pids are exactly the current worker processes" listed_matches_processes
check "after reload: no old web/task pid listed" \
    test "$(q 'implode(" ", array_intersect(array_column($w, "pid"), array_map("intval", explode(" ", "'"$WEB0 $TASK0"'"))))' <<< "$JS")" = ""
check "after reload: revision rev2 on the 5 new web/task workers" \
    test "$(q 'count(array_filter($w, function ($x) { return in_array($x["name"], ["web", "task"]) && ($x["revision"] ?? null) === "rev2"; }))' <<< "$JS")" = 5
check "after reload: gateway (not reloadable) keeps its pids and rev1" \
    test "$(q '$pids("gateway") . "/" . implode(",", array_unique(array_column($g("gateway"), "revision")))' <<< "$JS")" = "$GW0/rev1"
check "after reload: status worker pid unchanged ($ST0)" test "$(q '$pids("graceful-reload-status")' <<< "$JS")" = "$ST0"
check "after reload: master_pid unchanged" test "$(q '$j["master_pid"]' <<< "$JS")" = "$MASTER"
check "after reload: registry holds exactly the 7 live workers (old entries removed at exit)" \
    test "$(ls "$REGISTRY" | grep '^[0-9]*\.json$' | sed 's/\.json$//' | sort -n | tr '\n' ' ' | sed 's/ $//')" \
    = "$(echo $(group_pids web) $(group_pids gateway) $(group_pids task) | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')"
check "app serves after reload" test "$(curl -s --max-time 3 "http://127.0.0.1:$HTTP_PORT/")" = "hello from v1"

# ------------------------------------------------------------------ SIGKILLed worker
V=$(group_pids web | cut -d' ' -f1)
kill -KILL "$V"
check "SIGKILLed web worker $V: gone from the status at once" \
    wait_until 2 eval '! alive $V && [ -z "$(q "implode(\" \", array_filter(array_column(\$w, \"pid\"), function (\$p) { return \$p == $V; }))" <<< "$(status)")" ]'
check "... its stale registry file deleted by the status worker" test ! -e "$REGISTRY/$V.json"
check "... and its replacement listed" wait_until 5 listed_matches_processes

# ------------------------------------------------------------------ pinned graceful reload
exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&3
PINNED=""
while IFS= read -r -t 3 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case "$line" in X-Worker-Pid:*) PINNED=${line#X-Worker-Pid: } ;; esac
done
WEBP=$(group_pids web)
wm reload -g > /dev/null
sleep 1.5
JS=$(status)
check "pinned reload -g: the old worker $PINNED (still running, draining) stays listed" \
    eval 'alive $PINNED && [ "$(q "in_array($PINNED, array_column(\$w, \"pid\")) ? \"yes\" : \"no\"" <<< "$JS")" = yes ]'
check "pinned reload -g: listed web pids = running web processes" test "$(q '$pids("web")' <<< "$JS")" = "$(group_pids web)"
kill -INT "$PINNED"
exec 3>&-
check "unpinned: all web replaced and listed, old ones gone" \
    wait_until 10 eval 'all_replaced web 4 "$WEBP" && listed_matches_processes'

# ------------------------------------------------------------------ crash loop
echo rev3 > "$APP/REVISION"
echo '<?php throw new Error("boom");' > "$APP/src/handler.php"
WEB1=$(group_pids web)
wm reload -g > /dev/null
# Sample the status for 6 s: a pid listed in a sample must not have been seen
# dead more than 1 s before that sample was requested.
cat > "$WORK/sample.php" <<'PHP'
<?php
[$url, $seconds, $oldWeb] = [$argv[1], (float)$argv[2], array_map('intval', preg_split('/\s+/', trim($argv[3])))];
function running(int $pid): bool {
    $s = @file_get_contents("/proc/$pid/stat");
    if ($s === false) return false;
    $st = substr($s, strrpos($s, ')') + 2, 1);
    return $st !== 'Z' && $st !== 'X';
}
$ctx = stream_context_create(['http' => ['timeout' => 2]]);
$deadSince = []; $violations = []; $racy = 0; $samples = 0; $errors = 0; $webSeen = []; $diedWeb = []; $statusPids = [];
$end = microtime(true) + $seconds;
while (microtime(true) < $end) {
    $t0 = microtime(true);
    $j = json_decode((string)@file_get_contents($url, false, $ctx), true);
    if (!is_array($j) || !isset($j['workers'])) { $errors++; usleep(200000); continue; }
    $samples++;
    foreach ($j['workers'] as $x) {
        $pid = $x['pid'];
        if ($x['name'] === 'web') $webSeen[$pid] = true;
        if ($x['name'] === 'graceful-reload-status') $statusPids[$pid] = true;
        if (isset($deadSince[$pid]) && $t0 - $deadSince[$pid] > 1.0) {
            $violations[] = sprintf('pid %d (%s) listed %.2f s after it was seen dead', $pid, $x['name'], $t0 - $deadSince[$pid]);
        }
        if (!running($pid)) {
            $racy++;
            if (!isset($deadSince[$pid])) $deadSince[$pid] = microtime(true);
        }
    }
    foreach (array_keys($webSeen) as $pid) {
        if (!running($pid)) { $diedWeb[$pid] = true; $deadSince[$pid] = $deadSince[$pid] ?? microtime(true); }
    }
    usleep(150000);
}
$newWebSeen = array_diff(array_keys($webSeen), $oldWeb);
$newDied = array_diff(array_keys($diedWeb), $oldWeb);
echo json_encode(['samples' => $samples, 'errors' => $errors, 'violations' => $violations,
    'listed_then_dead_right_after' => $racy, 'new_web_pids_seen' => count($newWebSeen),
    'new_web_pids_seen_then_died' => count($newDied), 'status_pids' => array_keys($statusPids)]), "\n";
PHP
SAMPLE=$(php "$WORK/sample.php" "$URL" 6 "$WEB1")
note "crash-loop sampling: $SAMPLE"
check "crash loop: status answered every sample" test "$(q '$j["errors"] === 0 && $j["samples"] >= 15' <<< "$SAMPLE")" = true
check "crash loop: no dead pid listed for more than 1 s" test "$(q 'count($j["violations"])' <<< "$SAMPLE")" = 0
check "crash loop: crashing new web workers were seen briefly (and died)" \
    test "$(q '$j["new_web_pids_seen_then_died"] > 0' <<< "$SAMPLE")" = true
check "crash loop: status worker kept its pid ($ST0)" test "$(q 'implode(" ", $j["status_pids"])' <<< "$SAMPLE")" = "$ST0"
check "crash loop: master logged the boom" grep -q 'Error: boom' "$(log_file)"
# Fetched and checked in one PHP process, so "right after" is a millisecond:
# crashing workers live about a second, and a slower check races their exit.
all_listed_running() {
    php -r '$j = json_decode((string)@file_get_contents($argv[1]), true);
        if (!is_array($j) || empty($j["workers"])) exit(1);
        foreach ($j["workers"] as $x) {
            $s = @file_get_contents("/proc/" . (int)$x["pid"] . "/stat");
            if ($s === false || in_array(substr($s, strrpos($s, ")") + 2, 1), ["Z", "X"], true)) exit(1);
        }' "$URL"
}
check "crash loop: every listed pid is running right after the answer" wait_until 3 all_listed_running
web_rev3() { [ "$(q 'count($g("web")) > 0 ? implode(",", array_unique(array_column($g("web"), "revision"))) : ""' <<< "$(status)")" = rev3 ]; }
check "crash loop: the crashing web workers carry the new revision rev3" wait_until 3 web_rev3

# ------------------------------------------------------------------ fix, reload
cp "$WORK/handler.good.php" "$APP/src/handler.php"
wm reload > /dev/null
check "fixed code + reload: serving again" wait_until 15 eval 'curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/" | grep -qx "hello from v1"'
sleep 1.5   # let the last crashed worker of the loop leave
check "fixed: listed pids are exactly the current worker processes" wait_until 5 listed_matches_processes

# ------------------------------------------------------------------ stop
WORKERS=$(echo $(group_pids web) $(group_pids gateway) $(group_pids task) $(group_pids graceful-reload-status))
out=$(wm stop 2>&1); rc=$?
check "stop: exit 0, 'stop success'" test "$rc/$(tail -1 <<< "$out")" = "0/Workerman[start.php] stop success"
check "stop: master and all workers gone" eval '! alive $MASTER && for p in $WORKERS; do alive $p && exit 1; done; true'
check "stop: status port closed" eval '! listening $STATUS_PORT'
check "stop: the master removed the (default) registry dir" test ! -e "$REGISTRY"
check "no process of this app left" test -z "$(pgrep -f "start_file=$APP/start.php")"

# ------------------------------------------------------------------ without APP_STATUS_PORT
unset APP_STATUS_PORT
out=$(wm start -d 2>&1); rc=$?
MASTER=$(master_pid)
check "without APP_STATUS_PORT: starts, 4/2/1 workers, no status worker" \
    wait_until 5 eval '[ "$(nwords $(group_pids web))/$(nwords $(group_pids gateway))/$(nwords $(group_pids task))/$(nwords $(group_pids graceful-reload-status))" = 4/2/1/0 ]'
check "without APP_STATUS_PORT: serving" wait_until 5 eval 'curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/" | grep -qx "hello from v1"'
check "without APP_STATUS_PORT: nothing on the status port" eval '! listening $STATUS_PORT'
wm stop > /dev/null 2>&1
check "without APP_STATUS_PORT: stopped" eval '! alive $MASTER'

echo
echo "# $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
