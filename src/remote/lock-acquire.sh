# graceful-reload's host lock, one attempt, run on the host as
#   sh -c "<this file>" graceful-reload-lock STATE_DIR LOCK_DIR OWNER_PREFIX MODE TARGET START_FILE STALE_SECONDS
# OWNER_PREFIX is the owner record without its closing brace (JSON, ends with
# a comma); MODE is `force` or `wait`; STALE_SECONDS the heartbeat's stale age.
# Nothing is created unless the target holds its start file (exit 7): a
# mistyped target must not leave directories on the host, nor one inside an
# app. mkdir of the lock dir is the atomic step; the owner file is written to
# a temporary name and renamed, so a reader sees all of it or none. When the
# lock is held it prints the holder: host time now, the lock dir's mtime, the
# owner file's mtime (its heartbeat, or -), and the owner file. With force it
# then removes the lock and takes it, unless the heartbeat is recent.
# The mark, owner.json and 4096 (the most of an owner file read back) are
# host-lock.ts's MARK, OWNER_FILE and OWNER_BYTES.
# Exit: 0 with a mark line, 3 no state dir, 4 no lock dir, 5 no owner file, 6 force could not remove, 7 no target.
state=$1; lock=$2; prefix=$3; mode=$4; target=$5; start=$6; stale=$7; mark=@@graceful-reload-lock@@
if [ ! -d "$target" ] || [ ! -f "$start" ]; then exit 7; fi
if ! err=$(mkdir -p -- "$state" 2>&1); then printf "%s\n" "$err" >&2; exit 3; fi
take() {
  tries=0
  until err=$(mkdir -- "$lock" 2>&1); do
    [ -d "$lock" ] && return 1
    tries=$((tries + 1))
    if [ "$tries" -ge 2 ]; then printf "%s\n" "$err" >&2; exit 4; fi
  done
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  if ! printf "%s\"createdAt\":\"%s\"}\n" "$prefix" "$created" > "$lock/owner.json.tmp" || ! mv -f -- "$lock/owner.json.tmp" "$lock/owner.json"; then
    rm -rf -- "$lock"; echo "cannot write the lock's owner file" >&2; exit 5
  fi
  return 0
}
# A lock released between the mkdir and the stat is free: try again (a few times at most).
round=0
while :; do
  if take; then printf "%s acquired\n" "$mark"; exit 0; fi
  mtime=$(stat -c %Y -- "$lock" 2>/dev/null || stat -f %m -- "$lock" 2>/dev/null)
  round=$((round + 1))
  if [ -n "$mtime" ] || [ "$round" -ge 3 ]; then break; fi
done
now=$(date +%s)
beat=$(stat -c %Y -- "$lock/owner.json" 2>/dev/null || stat -f %m -- "$lock/owner.json" 2>/dev/null)
printf "%s held %s %s %s\n" "$mark" "$now" "$mtime" "${beat:--}"
head -c 4096 -- "$lock/owner.json" 2>/dev/null
echo
if [ "$mode" = force ]; then
  last=${beat:-$mtime}
  if [ -n "$last" ] && [ $((now - last)) -lt "$stale" ]; then printf "%s live\n" "$mark"; exit 0; fi
  if ! err=$(rm -rf -- "$lock" 2>&1); then printf "%s\n" "$err" >&2; exit 6; fi
  if take; then printf "%s forced\n" "$mark"; exit 0; fi
fi
exit 0
