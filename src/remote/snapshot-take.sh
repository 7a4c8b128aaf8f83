# Takes a hard-link snapshot of the live tree, run on the host as
#   sh -c "<this file>" graceful-reload-snapshot TARGET SNAPSHOTS_DIR [EXCLUDE_PATTERN...]
# The copy is `rsync -a --link-dest`, not `cp -al`: rsync is on every host
# already (the deploy needs it), while `cp -l` is GNU only; and where a file
# cannot be hard-linked (a file of another user under fs.protected_hardlinks)
# rsync copies it, so the snapshot is still whole. The copy is built under a
# .partial- name and renamed into place at the end, so a half-made snapshot is
# never listed. The snapshots must be on the target's file system (hard links
# cannot cross one): a target that is a mount point of its own is refused
# rather than copied whole. The patterns to leave out are written to
# `excluded` and given to rsync as --exclude. rsync's exit 24 (a file vanished
# while it was copied, a session file the app deleted) is a good snapshot: the
# file is gone from the live tree too.
# Prints the mark (host-snapshot.ts's MARK) and the snapshot's name. Exit: 3 no
# target, 4 no snapshots dir, 5 another file system, 6 the copy failed, 7 the rename failed.
target=$1; dir=$2; shift 2; mark=@@graceful-reload-snapshot@@
[ -d "$target" ] || { echo "the target is not a directory" >&2; exit 3; }
if ! err=$(mkdir -p -- "$dir" 2>&1); then printf "%s\n" "$err" >&2; exit 4; fi
device() { stat -c %d -- "$1" 2>/dev/null || stat -f %d -- "$1" 2>/dev/null; }
if [ "$(device "$target")" != "$(device "$dir")" ]; then echo "the snapshot directory is on another file system than the target (is the target a mount point?), and hard links cannot cross file systems" >&2; exit 5; fi
stamp=$(date -u +%Y%m%dT%H%M%SZ); name=$stamp; n=0
while [ -e "$dir/$name" ]; do n=$((n + 1)); name=$(printf "%s-%03d" "$stamp" "$n"); done
partial="$dir/.partial-$name-$$"
discard() { find "$partial" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null; rm -rf -- "$partial"; }
if ! err=$(mkdir -- "$partial" 2>&1); then printf "%s\n" "$err" >&2; exit 4; fi
: > "$partial/excluded" || { discard; exit 6; }
count=$#
for rule; do printf "%s\n" "$rule" >> "$partial/excluded" || { discard; exit 6; }; set -- "$@" "--exclude=$rule"; done
shift "$count"
rsync -a --link-dest="$target/" "$@" -- "$target/" "$partial/tree/"; code=$?
if [ "$code" != 0 ] && [ "$code" != 24 ]; then discard; exit 6; fi
mv -- "$partial" "$dir/$name" || { discard; exit 7; }
printf "%s %s\n" "$mark" "$name"
