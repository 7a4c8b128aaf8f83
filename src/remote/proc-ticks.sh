# Prints a process's start ticks ($1 a pid; field 22 of /proc/<pid>/stat), or
# nothing when /proc does not know it. The comm field may hold spaces: cut
# after its ")". Prepended to record-write.sh and record-read.sh.
# shellcheck disable=SC2086 # the fields after comm are split on purpose
ticks() { s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0; s=${s##*") "}; set -- $s; printf %s "${20}"; }
