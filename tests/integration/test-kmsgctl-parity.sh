#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl against journalctl 252 on the same records (issue 18 item 5): a
# store written through the store API (put-records: two boots of one host,
# kernel and journal records), exported with kmsgctl -o export into a
# journal file by systemd-journal-remote, which must pass
# journalctl --verify; then every row of docs/JOURNALCTL.md marked "same"
# is run on both and the outputs compared (kmsgctl_parity.py says how).
# Skips where journalctl or systemd-journal-remote is missing.
#
# Usage: test-kmsgctl-parity.sh BUILD_DIR
BUILD=${1:?usage: test-kmsgctl-parity.sh BUILD_DIR}
PY=$(command -v python3) || { echo "SKIP: python3 not installed"; exit 77; }
command -v journalctl >/dev/null || { echo "SKIP: journalctl not installed"; exit 77; }
[ -x /lib/systemd/systemd-journal-remote ] || { echo "SKIP: systemd-journal-remote not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-parity.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export TZ=UTC LC_ALL=C.UTF-8
unset SYSTEMD_COLORS NO_COLOR SYSTEMD_PAGER PAGER SYSTEMD_LESS COLUMNS
exec "$PY" "$(dirname "$0")/kmsgctl_parity.py" "$BUILD" "$T" "$(dirname "$0")/../../docs/JOURNALCTL.md"
