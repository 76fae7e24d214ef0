"""``runway-img auth login|status|logout``: store, check and remove the API key."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from runway_cli.cli import options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import ApiKeyOpt, BaseUrlOpt, JsonOpt

auth_app = typer.Typer(help="Store, check and remove your Runway API key.", no_args_is_help=True)


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


@auth_app.command("login")
@boundary
def login(
    with_token: Annotated[
        bool, typer.Option("--with-token", help="Read the key from stdin instead of prompting.")
    ] = False,
    base_url: BaseUrlOpt = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the key with the API first.")
    ] = True,
) -> None:
    """Store your API key (read from a hidden prompt, or from stdin)."""
    from runway_cli import render
    from runway_cli.connection import connect
    from runway_cli.credentials import store_key
    from runway_cli.errors import AuthenticationError, CredentialsError
    from runway_cli.input_checks import check_api_key

    key, source = _read_key(with_token)
    check_api_key(key, source)
    # The key to check is passed as if by --api-key, the highest precedence.
    settings = options.resolve(api_key=key, base_url=base_url)
    if verify:
        with connect(settings, allow_sandbox=False) as conn:
            try:
                org = conn.client.get_organization()
            except AuthenticationError as exc:
                raise CredentialsError(
                    f"{conn.client.base_url} rejected this key (HTTP 401); it was not stored.",
                    hint=exc.hint,
                ) from exc
            render.note(
                f"Key accepted by {conn.client.base_url} (credit balance: {org.credit_balance})."
            )
    path = store_key(settings.paths.credentials, key)
    render.note(f"Stored the key in {path} (readable only by you).")


@auth_app.command("status")
@boundary
def status(
    api_key: ApiKeyOpt = None, base_url: BaseUrlOpt = None, json_out: JsonOpt = False
) -> None:
    """Say where the key comes from, show it masked, and check it works."""
    from runway_cli.cli import runs
    from runway_cli.connection import connect
    from runway_cli.credentials import mask_key
    from runway_cli.errors import AuthenticationError, CredentialsError, RunwayImgError
    from runway_cli.render import ConsoleReporter

    settings = options.resolve(api_key=api_key, base_url=base_url)
    with connect(settings, allow_sandbox=False) as conn, ConsoleReporter() as reporter:
        runs.announce(conn, reporter)
        source = conn.key_source or "?"
        info: dict[str, Any] = {
            "source": source,
            "key": mask_key(conn.client.api_key),
            "baseUrl": conn.client.base_url,
            "valid": None,  # unknown until the API answers
            "creditBalance": None,
        }
        try:
            org = conn.client.get_organization()
        except AuthenticationError as exc:
            info["valid"] = False
            _print(info, json_out)
            raise CredentialsError(
                f"The key from {source} was rejected (HTTP 401).", hint=exc.hint
            ) from exc
        except RunwayImgError:
            _print(info, json_out)  # where the key comes from is still worth showing
            raise
    info["valid"] = True
    info["creditBalance"] = org.credit_balance
    _print(info, json_out)


def _print(info: dict[str, Any], json_out: bool) -> None:
    from runway_cli import render

    if json_out:
        render.print_json(info)
        return
    for line in render.auth_lines(info):
        render.data(line)


@auth_app.command("logout")
@boundary
def logout() -> None:
    """Remove the stored key."""
    from runway_cli import render
    from runway_cli.credentials import delete_key
    from runway_cli.settings import KEY_ENV

    settings = options.resolve()
    removed = delete_key(settings.paths.credentials)
    if removed:
        render.note(f"Removed the stored key ({removed}).")
    else:
        render.note("No stored key to remove.")
    if settings.api_key_env:
        render.warn(f"{KEY_ENV} is still set in your environment.")
