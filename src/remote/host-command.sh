# graceful-reload's runner for a user's command on the host (before-reload,
# after-reload), run as
#   env GRACEFUL_RELOAD_...=... sh -c "<this file>" host-command TARGET TIMEOUT_SECONDS COMMAND
# In the target directory, with bash where the host has it (the commands are
# written like a workflow's run: steps), else sh; stderr with stdout, so the
# log shows them in order. GNU timeout ends the command's whole process
# group when it runs too long (exit 124), so a hung migration does not
# outlive the rollout; without timeout, the runner's own bound still holds.
cd "$1" || { echo "cannot enter $1"; exit 97; }
seconds=$2 command=$3
shell='sh'
command -v bash >/dev/null 2>&1 && shell=bash
if command -v timeout >/dev/null 2>&1; then
  exec timeout -k 10 "$seconds" "$shell" -c "$command" 2>&1
fi
exec "$shell" -c "$command" 2>&1
