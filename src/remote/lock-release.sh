# Releases graceful-reload's host lock, run on the host as
#   sh -c "<this file>" graceful-reload-unlock LOCK_DIR TOKEN
# Removes the lock only while its owner file carries this run's token: a lock
# another run took by force stays, and its owner is printed after `other`.
lock=$1; token=$2; mark=@@graceful-reload-lock@@
if [ ! -d "$lock" ]; then printf "%s gone\n" "$mark"; exit 0; fi
if grep -F -q -e "\"token\":\"$token\"" -- "$lock/owner.json" 2>/dev/null; then
  if ! err=$(rm -rf -- "$lock" 2>&1); then printf "%s\n" "$err" >&2; exit 3; fi
  printf "%s released\n" "$mark"; exit 0
fi
printf "%s other\n" "$mark"
head -c 4096 -- "$lock/owner.json" 2>/dev/null
echo
exit 0
