
_runway_img_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _RUNWAY_IMG_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _runway_img_completion runway-img

