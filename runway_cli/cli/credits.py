"""``runway-img credits``: the credit balance, per-model limits and today's usage."""

from __future__ import annotations

from runway_cli.cli import options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    JsonOpt,
    ProfileOpt,
    QuietOpt,
    SandboxOpt,
    VerboseOpt,
)


@boundary
def credits(
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    profile: ProfileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show the credit balance, each model's concurrency and daily limits, and today's usage
    (GET /v1/organization)."""
    from runway_cli import render
    from runway_cli.cli import contract, runs
    from runway_cli.results import organization_result

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"creditBalance": None, "maxMonthlyCreditSpend": None, "models": {}})
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    with runs.connected(settings) as (conn, _):
        org = conn.client.get_organization()
    if json_out:
        contract.emit(organization_result(org))
        return
    for line in render.credits_lines(org):
        render.data(line)
