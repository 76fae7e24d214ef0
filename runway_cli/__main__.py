"""Allow ``python -m runway_cli``."""

from runway_cli.cli import main

if __name__ == "__main__":
    main()
