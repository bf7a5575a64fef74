#!/bin/bash
# SPDX-License-Identifier: ISC
# Run every libFuzzer target built in BUILD_DIR for SECONDS each, starting
# from a copy of its seed corpus (tests/fuzz/corpus/NAME) in a temporary
# directory; nothing is written into the source tree, unless
# --update-corpus is given (the long form): then, for each target that
# passed, libFuzzer's -merge=1 adds to its corpus in the tree only those
# inputs of the run that reach new coverage (the seeds stay).
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS [--update-corpus]
#
# Prints one line per target, "fuzz NAME: ok (N runs)" or "fuzz NAME:
# FAILED", followed for a failure by the sanitizer summary and where the
# log and the reproducer were kept. Exits non-zero if any target failed or
# none was found.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]] ||
	{ [ $# = 3 ] && [ "$3" != --update-corpus ]; }; then
	echo "usage: $0 BUILD_DIR SECONDS [--update-corpus]" >&2
	exit 2
fi
build=$1
seconds=$2
update=${3:-}
corpus_top=$(cd "$(dirname "$0")" && pwd)/corpus

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-fuzz.XXXXXX") || exit 1
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0 found=0
for bin in "$build"/tests/fuzz/fuzz-*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=${bin##*/}
	found=$((found + 1))
	work=$tmp/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$corpus_top/$name" ]; then
		cp -R "$corpus_top/$name/." "$work/corpus/"
	fi
	log=$work/log
	# The leak checker runs at exit too; ASan/UBSan reports end the run.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
		"$work/corpus" </dev/null >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ -n "$runs" ]; then
		echo "fuzz $name: ok ($runs runs)"
		if [ -n "$update" ]; then
			mkdir -p "$corpus_top/$name"
			before=$(ls "$corpus_top/$name" | wc -l)
			if "$bin" -merge=1 "$corpus_top/$name" "$work/corpus" </dev/null >"$work/merge.log" 2>&1; then
				echo "fuzz $name: corpus $before -> $(ls "$corpus_top/$name" | wc -l) files"
			else
				echo "fuzz $name: merge failed, corpus left as it was (log: $work/merge.log)" >&2
				keep=1
			fi
		fi
	else
		failed=$((failed + 1))
		keep=1
		echo "fuzz $name: FAILED"
		{
			echo "  exit status $rc; log: $log"
			grep -E '^(SUMMARY|==[0-9]+==ERROR)' "$log" | head -n 3 | sed 's/^/  /'
			for a in "$work"/artifacts/*; do
				[ -f "$a" ] && echo "  reproducer: $a"
			done
		} >&2
	fi
done

if [ "$found" = 0 ]; then
	echo "fuzz: FAILED: no fuzz targets in $build/tests/fuzz (meson setup -Dfuzz=true?)"
	exit 1
fi
[ "$failed" = 0 ]
