"""``runway-img auth login|status|list|use|logout``: store, check, choose and remove API keys,
one per profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.app import unwrapped
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import ApiKeyOpt, BaseUrlOpt, JsonOpt, ProfileOpt, QuietOpt

if TYPE_CHECKING:
    from runway_cli.settings import Settings

auth_app = typer.Typer(
    epilog=unwrapped('Example: echo "$KEY" | runway-img auth login --profile work'),
    help="Store, check, choose and remove your Runway API keys (one per profile).",
    no_args_is_help=True,
)


def _read_key(with_token: bool) -> tuple[str, str]:
    """The key and where it came from: stdin (piped, or --with-token) or a hidden prompt."""
    import getpass

    from runway_cli.errors import UsageError
    from runway_cli.prompt_input import read_stdin, stdin_is_terminal

    if with_token or not stdin_is_terminal():
        raw = read_stdin("the key")
        line = raw.decode("utf-8", "replace").splitlines()[0] if raw.strip() else ""
        return line.strip(), "stdin"
    try:
        key = getpass.getpass("Paste your Runway API key (input is hidden): ").strip()
    except EOFError:
        raise UsageError("No key entered.") from None
    return key, "the prompt"


@auth_app.command(
    "login", epilog=unwrapped('Example: echo "$KEY" | runway-img auth login --profile work')
)
@boundary
def login(
    with_token: Annotated[
        bool, typer.Option("--with-token", help="Read the key from stdin instead of prompting.")
    ] = False,
    base_url: BaseUrlOpt = None,
    profile: ProfileOpt = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the key with the API first.")
    ] = True,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Store an API key (from a hidden prompt, or stdin) for a profile (default: current)."""
    from dataclasses import replace

    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.credentials import store_key
    from runway_cli.input_checks import check_api_key, check_base_url
    from runway_cli.profiles import ConfigFile

    options.begin(json_out=json_out, quiet=quiet)
    result: dict[str, Any] = {"stored": None, "profile": None, "baseUrl": None}
    result.update(verified=False, creditBalance=None)
    contract.known(result)
    settings = options.resolve(base_url=base_url, profile=profile)
    name = settings.profile.active
    result["profile"] = name
    if base_url is not None:
        base_url = check_base_url(base_url)[0]
    key, source = _read_key(with_token)
    check_api_key(key, source)
    # The key to check is used as if given by --api-key, the highest precedence.
    settings = replace(settings, api_key_flag=key)
    if verify:
        result.update(_verify(settings), verified=True)
        contract.known(result)
    path = store_key(settings.paths.credentials, key, name)
    if base_url is not None:
        config = ConfigFile.load(settings.paths.config_file)
        config.profiles.setdefault(name, {})["base-url"] = base_url
        config.save()
    shown = "" if name == "default" else f" for profile {name}"
    render.note(f"Stored the key{shown} in {path} (readable only by you).")
    result["stored"] = str(path)
    if json_out:
        contract.emit(result)


def _verify(settings: Settings) -> dict[str, Any]:
    """Check the key against the API it will be used with; say so when that is not the
    production API (a leftover RUNWAYML_BASE_URL pointing at a sandbox, say)."""
    from runway_cli import render
    from runway_cli.connection import connect
    from runway_cli.errors import AuthenticationError, CredentialsError
    from runway_cli.wire import DEFAULT_BASE_URL

    with connect(settings, allow_sandbox=False) as conn:
        sandbox_at: list[str] = []
        conn.client.on_sandbox = sandbox_at.append
        url = conn.client.base_url
        try:
            org = conn.client.get_organization()
        except AuthenticationError as exc:
            raise CredentialsError(
                f"{url} rejected this key (HTTP 401); it was not stored.", hint=exc.hint
            ) from exc
    render.note(f"Key accepted by {url} (credit balance: {org.credit_balance}).")
    if sandbox_at:
        render.warn(
            f"{url} is a runway-img sandbox, not the Runway API: the key stored now is the "
            f"sandbox's. {_where_the_url_came_from(settings)}"
        )
    elif url != DEFAULT_BASE_URL:
        render.warn(f"The key was checked against {url}, not {DEFAULT_BASE_URL}.")
    return {"baseUrl": url, "creditBalance": org.credit_balance}


def _where_the_url_came_from(settings: Settings) -> str:
    """The way back to the real API, for the source the base URL came from."""
    from runway_cli.settings import BASE_URL_ENV

    if settings.base_url_source == "flag":
        return "That is what --base-url asked for; leave it out to store your real key."
    if settings.base_url_source == "env":
        return f"Unset {BASE_URL_ENV} (or pass --base-url) to store your real key."
    return "It is the profile's base URL (runway-img config unset base-url)."


@auth_app.command("status", epilog=unwrapped("Example: runway-img auth status --json"))
@boundary
def status(
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Say which key and profile are in use and where they come from, and check the key."""
    from runway_cli.cli import contract
    from runway_cli.errors import RunwayImgError

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve(api_key=api_key, base_url=base_url, profile=profile)
    info: dict[str, Any] = {
        "source": None,
        "profile": settings.profile.active,
        "profileSource": settings.profile.source,
        "key": None,
        "baseUrl": settings.base_url,
        "valid": None,  # unknown until the API answers
        "creditBalance": None,
    }
    try:
        _check_status(settings, info)
    except RunwayImgError:
        contract.known(info)  # with --json, the boundary prints it with the error
        if not json_out:
            _print(info)  # where the key comes from is still worth showing
        raise
    if json_out:
        contract.emit(info)
    else:
        _print(info)


def _check_status(settings: Settings, info: dict[str, Any]) -> None:
    from runway_cli.cli import runs
    from runway_cli.connection import connect
    from runway_cli.credentials import mask_key
    from runway_cli.errors import AuthenticationError, CredentialsError
    from runway_cli.render import ConsoleReporter

    try:
        with connect(settings, allow_sandbox=False) as conn, ConsoleReporter() as reporter:
            runs.announce(conn, reporter)
            source = conn.key_source or "?"
            info.update(source=source, key=mask_key(conn.client.api_key))
            info["baseUrl"] = conn.client.base_url
            try:
                org = conn.client.get_organization()
            except AuthenticationError as exc:
                raise CredentialsError(
                    f"The key from {source} was rejected by {conn.client.base_url} (HTTP 401).",
                    hint=exc.hint,
                ) from exc
    except CredentialsError:
        info["valid"] = False
        raise
    info["valid"] = True
    info["creditBalance"] = org.credit_balance


def _print(info: dict[str, Any]) -> None:
    from runway_cli import render

    for line in render.auth_lines(info):
        render.data(line)


@auth_app.command("list", epilog=unwrapped("Example: runway-img auth list --json"))
@boundary
def list_profiles(json_out: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """List profiles: which has a key (masked), its base URL, and the current one."""
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.credentials import mask_key, read_keys
    from runway_cli.profiles import ConfigFile

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"current": None, "profiles": []})
    settings = options.resolve()
    keys, warnings = read_keys(settings.paths.credentials)
    for line in warnings:
        render.warn(line)
    config = ConfigFile.load(settings.paths.config_file)
    current = settings.profile.current
    rows = [
        {
            "name": name,
            "current": name == current,
            "key": mask_key(keys[name]) if name in keys else None,
            "baseUrl": config.profile(name).get("base-url"),
        }
        for name in sorted(set(keys) | set(config.profiles) | {current})
    ]
    if json_out:
        contract.emit({"current": current, "profiles": rows})
        return
    for row in rows:
        mark = "*" if row["current"] else " "
        url = row["baseUrl"] or "(default API)"
        render.data(f"{mark} {row['name']:<16} {row['key'] or '(no key)':<12} {url}")


@auth_app.command("use", epilog=unwrapped("Example: runway-img auth use work"))
@boundary
def use(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The profile to make current.",
            autocompletion=completion.complete_profile,
        ),
    ],
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Make a profile the current one (RUNWAY_IMG_PROFILE and --profile still win)."""
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.credentials import read_keys
    from runway_cli.errors import UsageError
    from runway_cli.profiles import ConfigFile, check_name

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"current": None})
    settings = options.resolve()
    check_name(name)
    keys, _ = read_keys(settings.paths.credentials)
    config = ConfigFile.load(settings.paths.config_file)
    if name not in keys and name not in config.profiles:
        raise UsageError(
            f"There is no profile {name!r}.",
            hint=f"Create it with: runway-img auth login --profile {name}",
        )
    config.current = name
    config.save()
    render.note(f"Profile {name} is now current.")
    if json_out:
        contract.emit({"current": name})


@auth_app.command("logout", epilog=unwrapped("Example: runway-img auth logout --profile work"))
@boundary
def logout(profile: ProfileOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Remove a profile's stored key (default: the current profile)."""
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.credentials import delete_key
    from runway_cli.settings import KEY_ENV

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"removed": None, "profile": None})
    settings = options.resolve(profile=profile)
    name = settings.profile.active
    removed = delete_key(settings.paths.credentials, name)
    path = settings.paths.credentials
    if removed:
        render.note(f"Removed the stored key of profile {name} ({path}).")
    else:
        render.note(f"No stored key to remove for profile {name}.")
    if settings.api_key_env:
        render.warn(f"{KEY_ENV} is still set in your environment.")
    if json_out:
        contract.emit({"removed": str(path) if removed else None, "profile": name})
