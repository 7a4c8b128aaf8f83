#!/usr/bin/env bash
# The deploy most workflows run today, for comparison (npm run bench): one
# host after the other, rsync the source, then `php start.php COMMAND`
# (reload, or restart -d); no check that any worker was replaced.
#
# usage: ssh-loop.sh KEY KNOWN_HOSTS SOURCE TARGET COMMAND HOST:PORT...
set -euo pipefail
if [[ $# -lt 6 ]]; then
  echo "usage: $0 KEY KNOWN_HOSTS SOURCE TARGET COMMAND HOST:PORT..." >&2
  exit 2
fi
key=$1 known_hosts=$2 source=$3 target=$4 command=$5
shift 5

for endpoint in "$@"; do
  host=${endpoint%:*} port=${endpoint##*:}
  ssh="ssh -p $port -i $key -o BatchMode=yes -o UserKnownHostsFile=$known_hosts"
  rsync -az --delete --exclude=.git/ --exclude='*.pid' --exclude='*.log' --exclude='*.status' -e "$ssh" "$source/" "root@$host:$target/"
  $ssh "root@$host" "cd '$target' && php start.php $command"
done
