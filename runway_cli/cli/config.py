"""``runway-img config set|unset|list``: a profile's defaults (model, ratio, output folder,
base URL). Flags always win over them."""

from __future__ import annotations

from typing import Annotated

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.app import unwrapped
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import JsonOpt, ProfileOpt, QuietOpt

config_app = typer.Typer(
    epilog=unwrapped("Example: runway-img config set model gemini_image3_pro"),
    help="Defaults for a profile: model, ratio, output-dir, base-url (flags win).",
    no_args_is_help=True,
)
KeyArg = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="model, ratio, output-dir or base-url.",
        autocompletion=completion.complete_setting,
    ),
]


def _check(key: str, value: str) -> str:
    from runway_cli.catalog import get_model, parse_ratio
    from runway_cli.errors import UsageError
    from runway_cli.input_checks import check_base_url
    from runway_cli.profiles import SETTINGS

    if key not in SETTINGS:
        raise UsageError(f"Unknown setting {key!r}; settings are: {', '.join(SETTINGS)}.")
    if key == "model" and get_model(value) is None:
        raise UsageError(f"{value!r} is not in the model catalog.", hint="See: runway-img models")
    if key == "ratio" and parse_ratio(value) is None and not value.startswith("auto"):
        raise UsageError(f"Invalid ratio {value!r}: expected WIDTH:HEIGHT, e.g. 1280:720.")
    if key == "base-url":
        return check_base_url(value)[0]
    if key == "output-dir":
        from pathlib import Path

        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise UsageError(f"{value} is not an existing folder.")
        return str(folder.resolve())
    return value


@config_app.command(
    "set", epilog=unwrapped("Example: runway-img config set model gemini_image3_pro")
)
@boundary
def set_value(
    key: KeyArg,
    value: Annotated[
        str, typer.Argument(metavar="VALUE", autocompletion=completion.complete_setting_value)
    ],
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Set a default for the profile (default: the current one)."""
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.profiles import ConfigFile

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve(profile=profile)
    name = settings.profile.active
    contract.known({"profile": name, "settings": {}})
    checked = _check(key, value)
    config = ConfigFile.load(settings.paths.config_file)
    config.profiles.setdefault(name, {})[key] = checked
    config.save()
    render.note(f"{key} = {checked} for profile {name}.")
    if json_out:
        contract.emit({"profile": name, "settings": config.profiles[name]})


@config_app.command("unset", epilog=unwrapped("Example: runway-img config unset ratio"))
@boundary
def unset_value(
    key: KeyArg, profile: ProfileOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False
) -> None:
    """Remove a default from the profile."""
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.profiles import ConfigFile

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve(profile=profile)
    name = settings.profile.active
    config = ConfigFile.load(settings.paths.config_file)
    values = config.profiles.get(name, {})
    removed = values.pop(key, None)
    if removed is not None:
        config.save()
        render.note(f"Removed {key} from profile {name}.")
    else:
        render.note(f"Profile {name} has no {key} set.")
    if json_out:
        contract.emit({"profile": name, "settings": values})


@config_app.command("list", epilog=unwrapped("Example: runway-img config list --json"))
@boundary
def list_values(
    profile: ProfileOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False
) -> None:
    """Show the profile's defaults."""
    from runway_cli import render
    from runway_cli.cli import contract

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve(profile=profile)
    name = settings.profile.active
    values = dict(settings.defaults.values)
    if json_out:
        contract.emit({"profile": name, "settings": values})
        return
    render.note(f"Profile {name} ({settings.profile.source}):")
    for key, value in sorted(values.items()):
        render.data(render.visible(f"{key} = {value}"))
