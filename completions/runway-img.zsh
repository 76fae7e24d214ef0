
#compdef runway-img

_runway_img_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _RUNWAY_IMG_COMPLETE=complete_zsh runway-img)
}

compdef _runway_img_completion runway-img

