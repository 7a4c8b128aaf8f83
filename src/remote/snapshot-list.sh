# Lists a target's snapshots, run on the host as
#   sh -c "<this file>" graceful-reload-snapshots SNAPSHOTS_DIR
# The mark (host-snapshot.ts's MARK), then the entries one a line, finished
# and half-made (.partial-); nothing after the mark when the directory does
# not exist yet.
dir=$1; mark=@@graceful-reload-snapshot@@
printf "%s\n" "$mark"
[ -d "$dir" ] || exit 0
cd -- "$dir" || exit 3
for entry in * .partial-*; do [ -d "$entry" ] && printf "%s\n" "$entry"; done
exit 0
