# Restores a snapshot into the live tree, run on the host as
#   sh -c "<this file>" graceful-reload-restore SNAPSHOT TARGET RSYNC_OPTION...
# What the snapshot left out (its `excluded` file) is hidden and protected
# too: the snapshot holds no copy of it, so --delete would otherwise remove it
# from the live tree. Exit 93: no such snapshot; 94: no target; else rsync's.
from=$1; to=$2; shift 2
[ -d "$from/tree" ] || { echo "the snapshot does not exist" >&2; exit 93; }
[ -d "$to" ] || { echo "the target is not a directory" >&2; exit 94; }
if [ -f "$from/excluded" ]; then
  while IFS= read -r rule; do
    [ -n "$rule" ] && set -- "$@" "--filter=hide $rule" "--filter=protect $rule"
  done < "$from/excluded"
fi
exec rsync "$@" -- "$from/tree/" "$to/"
