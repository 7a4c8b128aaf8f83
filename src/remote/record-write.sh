# Writes the record of what a master loaded, run on the host as
#   sh -c "<proc-ticks.sh><this file>" graceful-reload-record STATE_DIR PID FILES_JSON
# The record is written to a temporary name and renamed, so a reader sees all
# of it or none; master.json is master-record.ts's RECORD_FILE.
# Exit 4: the pid has no /proc entry; 3: no state dir; 5: cannot write.
# shellcheck shell=sh
state=$1; pid=$2; files=$3
start=$(ticks "$pid"); boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
if [ -z "$start" ] || [ -z "$boot" ]; then echo "no /proc entry for pid $pid, or no boot id" >&2; exit 4; fi
if ! err=$(mkdir -p -- "$state" 2>&1); then printf "%s\n" "$err" >&2; exit 3; fi
tmp="$state/master.json.tmp.$$"
if printf '{"pid":%s,"startTicks":"%s","bootId":"%s","files":%s}\n' "$pid" "$start" "$boot" "$files" > "$tmp" && mv -f -- "$tmp" "$state/master.json"; then exit 0; fi
rm -f -- "$tmp"; exit 5
