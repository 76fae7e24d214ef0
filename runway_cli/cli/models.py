"""``runway-img models``: the model catalog, as a table, in full for one model, or as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import QuietOpt


@boundary
def models(
    model_id: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL_ID",
            help="Show one model in full.",
            show_default=False,
            autocompletion=completion.complete_model,
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help='Print JSON on stdout ({"models": [...]}, or one model).'),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """List the text-to-image models, or show one with all ratios and parameters."""
    from runway_cli import render
    from runway_cli.catalog import all_models, find_model
    from runway_cli.cli import contract

    options.begin(json_out=json_out, quiet=quiet)

    if model_id is None:
        known = list(all_models().values())
        if json_out:
            contract.emit({"models": [m.to_json() for m in known]})
        else:
            for line in render.models_table(known):
                render.data(line)
        return
    spec = find_model(model_id)
    if json_out:
        contract.emit(spec.to_json())
    else:
        for line in render.model_detail(spec):
            render.data(line)
