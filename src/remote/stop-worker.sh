# Sends a signal to one old worker, but only while that PID is still a child
# of the master: PIDs are reused, and a stale one must never be signalled.
# Run on the host as
#   sh -c "<this file>" stop-worker PID MASTER_PID INT|KILL
# Field 4 of /proc/PID/stat (after the comm field, which may hold spaces) is
# the parent's pid. Exit 3: not the master's child (or gone).
# shellcheck disable=SC2086 # the stat fields are split on purpose
f=$(sed "s/^.*) //" "/proc/$1/stat" 2>/dev/null) || exit 3; set -- "$1" "$2" "$3" $f; [ "$5" = "$2" ] || exit 3; kill -s "$3" "$1"
