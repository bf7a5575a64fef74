# SPDX-License-Identifier: ISC
# bash completion for kmsgctl(1): options, output formats, priorities,
# facilities, and host names and boot ids from the store (-D, else the
# default state directory).

_kmsgctl_dir() {
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		-D | --directory) echo "${COMP_WORDS[i + 1]}"; return ;;
		--directory=*) echo "${COMP_WORDS[i]#--directory=}"; return ;;
		esac
	done
	echo /var/lib/kmsg-collector
}

_kmsgctl() {
	local cur prev words cword
	_init_completion -n = 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	}
	local opts='-D --directory -H --host -b --boot --list-boots --list-hosts --silent --gaps --verify
		-p --priority --facility -S --since -U --until -n --lines -r --reverse -f --follow -g --grep
		--case-sensitive -c --cursor --after-cursor --cursor-file --show-cursor -o --output --utc
		--no-pager -q --quiet -k --dmesg -t --identifier -T --exclude-identifier -u --unit -a --all
		-l --full --no-full --no-hostname --output-fields -e --pager-end -x --catalog -m --merge
		--no-tail -F --field -N --fields --header --disk-usage -M --machine -h --help --version'
	local formats='short short-iso short-precise short-monotonic short-iso-precise short-full
		short-unix short-delta with-unit cat json json-pretty json-seq json-sse export verbose'
	local dir
	dir=$(_kmsgctl_dir)
	case $prev in
	-D | --directory | --cursor-file)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	-H | --host)
		COMPREPLY=($(compgen -W "$(ls "$dir/hosts" 2>/dev/null)" -- "$cur"))
		return ;;
	-b | --boot)
		COMPREPLY=($(compgen -W "all 0 -1 1 $(kmsgctl -D "$dir" --list-boots 2>/dev/null |
			grep -o '[0-9a-f]\{32\}' | sort -u)" -- "$cur"))
		return ;;
	-o | --output)
		COMPREPLY=($(compgen -W "$formats" -- "$cur"))
		return ;;
	-p | --priority)
		COMPREPLY=($(compgen -W 'emerg alert crit err warning notice info debug' -- "$cur"))
		return ;;
	--facility)
		COMPREPLY=($(compgen -W "help $(kmsgctl --facility=help 2>/dev/null | tail -n +2)" -- "$cur"))
		return ;;
	--case-sensitive)
		COMPREPLY=($(compgen -W 'yes no' -- "$cur"))
		return ;;
	-F | --field)
		COMPREPLY=($(compgen -W "$(kmsgctl -D "$dir" -N -n 1000 2>/dev/null)" -- "$cur"))
		return ;;
	-S | --since | -U | --until | -g | --grep | -n | --lines | -t | --identifier | -T | \
		--exclude-identifier | -u | --unit | -c | --cursor | --after-cursor | --silent | \
		--output-fields | -M | --machine)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	fi
}
complete -F _kmsgctl kmsgctl
