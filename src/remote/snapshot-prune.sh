# Removes snapshots by name, run on the host as
#   sh -c "<this file>" graceful-reload-prune SNAPSHOTS_DIR NAME...
# A snapshot keeps the permissions of the tree it copied: a directory without
# write permission is made writable first, or its entries could not be
# removed. Only directories: the files are hard links, and a chmod on one
# would change the live file too.
dir=$1; shift
cd -- "$dir" || exit 3
failed=0
for name in "$@"; do
  find "./$name" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null
  rm -rf -- "./$name" || failed=1
done
exit $failed
