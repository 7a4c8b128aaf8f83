# Renews graceful-reload's host lock heartbeat, run on the host as
#   sh -c "<this file>" graceful-reload-heartbeat LOCK_DIR TOKEN
# The heartbeat is the owner file's mtime, renewed while the owner file
# carries this run's token; otherwise says the lock is gone, or another's,
# with its owner.
lock=$1; token=$2; mark=@@graceful-reload-lock@@
if grep -F -q -e "\"token\":\"$token\"" -- "$lock/owner.json" 2>/dev/null && touch -c -- "$lock/owner.json"; then printf "%s alive\n" "$mark"; exit 0; fi
if [ ! -d "$lock" ]; then printf "%s gone\n" "$mark"; exit 0; fi
printf "%s other\n" "$mark"
head -c 4096 -- "$lock/owner.json" 2>/dev/null
echo
exit 0
