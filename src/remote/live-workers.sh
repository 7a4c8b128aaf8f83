# The old workers among PIDS that still run (a worker title in /proc), one
# PID a line, run on the host as
#   sh -c "<this file>" live-workers PID...
# After the master died, these serve old code on their own.
for p in "$@"; do t=$(tr "\000" " " 2>/dev/null < "/proc/$p/cmdline") || continue; case "$t" in *"worker process"*) echo "$p";; esac; done
