#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl against a hostile agent's records (issue 22 items 1, 2, 5):
# records written through the store API (put-records) with identifiers,
# pids and messages full of newlines, carriage returns and terminal
# escapes must never put a control byte on a terminal or forge a line, in
# any output format; what kmsgctl shows is compared with journalctl 252 on
# the same records (through systemd-journal-remote) where journalctl is
# installed; a record of 9,000 fields must print fast in json and export.
#
# Usage: test-kmsgctl-hostile.sh BUILD_DIR
BUILD=${1:?usage: test-kmsgctl-hostile.sh BUILD_DIR}
PY=$(command -v python3) || { echo "SKIP: python3 not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-hostile.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export TZ=UTC LC_ALL=C.UTF-8
unset SYSTEMD_COLORS NO_COLOR SYSTEMD_PAGER PAGER SYSTEMD_LESS
exec "$PY" "$(dirname "$0")/kmsgctl_hostile.py" "$BUILD" "$T"
