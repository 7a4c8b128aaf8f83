# Prints the record of what a master loaded, appended to the preflight's
# command (no round trip of its own) after `rc=$?` and `rec=<record path>`,
# with proc-ticks.sh before it: the mark, the record, then the start ticks of
# the pid it names and the boot id as they are now (after the now mark).
# Keeps the exit code of what ran before it. Reads at most 4000000 bytes of the
# record; the marks are master-record.ts's MARK and NOW_MARK.
# shellcheck shell=sh disable=SC2154 # rc and rec are set by the lines before this file
printf '\n%s\n' @@graceful-reload-record@@
if [ -f "$rec" ]; then head -c 4000000 -- "$rec"; echo; pid=$(head -n 1 -- "$rec" | sed -n 's/^{"pid":\([0-9][0-9]*\),.*/\1/p'); printf '%s %s %s\n' @@graceful-reload-record-now@@ "$(ticks "$pid")" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"; fi
exit "$rc"
