#!/bin/sh
# SPDX-License-Identifier: ISC
# meson install script: put the example configs into DIR (under DESTDIR)
# unless a file of that name is there already, which is the admin's and
# is kept; the example then goes next to it as NAME.example.
#   install-conf.sh DIR FILE...
set -eu
dir=${DESTDIR:-}$1
shift
mkdir -p "$dir"
for f in "$@"; do
	name=${f##*/}
	if [ -e "$dir/$name" ]; then
		install -m 0644 "$f" "$dir/$name.example"
		echo "kept $dir/$name; the example is $dir/$name.example"
	else
		install -m 0644 "$f" "$dir/$name"
	fi
done
