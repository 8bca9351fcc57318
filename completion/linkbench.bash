# linkbench bash completion: subcommands, their options (read from their --help), variant
# names, shipped scenarios and suites, files and directories.
_linkbench()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local lb=${COMP_WORDS[0]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "list run serve merge bench plot report check baseline --help --version" -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]}
    case $prev in
        --variant)
            # a comma-separated list: complete the last name
            local done=${cur%,*} last=${cur##*,} names
            names=$("$lb" list --names 2>/dev/null)
            [ "$done" = "$cur" ] && done="" || done="$done,"
            COMPREPLY=($(compgen -W "$names" -P "$done" -- "$last"))
            compopt -o nospace 2>/dev/null
            return ;;
        --out|--baseline)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -o|--output)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --repeat|--remeasure|--duration|--links|--target|--target-pid|--target-cmd|--listen|--shard|--start-at|--every)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$lb" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)" -- "$cur"))
        return
    fi
    case $cmd in
        run)
            local shipped
            shipped=$("$lb" list --scenarios 2>/dev/null | awk '{print $1}')
            COMPREPLY=($(compgen -W "$shipped" -- "$cur") $(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
            ;;
        bench)
            COMPREPLY=($(compgen -W "vsock driver" -- "$cur")) ;;
        baseline)
            [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "update" -- "$cur")) ||
                COMPREPLY=($(compgen -f -- "$cur")) ;;
        plot|report|check|merge)
            COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.json' -- "$cur")) ;;
    esac
}
complete -F _linkbench linkbench
