"""Shell-completion candidates that know the domain: catalog model ids, the chosen model's
ratios and formats, recent task ids from the local history, profile and setting names.

Typer calls these on every <TAB>, in a process that answers and exits, so each one imports
only what it reads (the catalog, the history, the settings and profile files) and never the
API client, rich's live display or the sandbox. A file that cannot be read means fewer
candidates, never an error: a completion must not print anything but candidates.

Each returns ``(value, description)`` pairs: bash shows the values, zsh and fish the
descriptions too. Typer keeps the values that start with what was typed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from runway_cli.catalog import Model
    from runway_cli.settings import Settings

Candidates = list[tuple[str, str]]

RECENT_TASKS = 20  # task ids offered, newest first
DESCRIPTION_WIDTH = 50  # zsh and fish wrap longer descriptions onto a line of their own
FORMATS = ("png", "jpeg", "webp")
PUBLIC_FIGURES = (
    ("auto", "standard moderation of public figures"),
    ("low", "less strict moderation of public figures"),
)


def complete_model(ctx: typer.Context, incomplete: str) -> Candidates:
    """``--model``: every catalog model, with its prompt limit and reference-image count."""
    from runway_cli.catalog import all_models

    default = _default_model(ctx) if _descriptions_shown() else None
    return [
        (spec.id, _model_description(spec, default=spec.id == default))
        for spec in all_models().values()
        if spec.id.startswith(incomplete)
    ]


def complete_ratio(ctx: typer.Context, incomplete: str) -> Candidates:
    """``--ratio``: the ratios listed for the model on the line (else the profile's, else the
    built-in default). A free-form model still takes others; these are the listed ones."""
    spec = _model(ctx)
    if spec is None:
        return []
    return [
        (value, _ratio_description(value, default=value == spec.ratio.default))
        for value in spec.ratio.values
        if value.startswith(incomplete)
    ]


def complete_format(ctx: typer.Context, incomplete: str) -> Candidates:
    """``--format``: the formats the chosen model writes. A model named on the line that
    takes no format gets none; with no model on the line yet, any format may still fit."""
    spec = _model(ctx)
    if spec is not None and spec.output_formats is not None:
        formats = [f for f in FORMATS if f in spec.output_formats]
        formats += [f for f in spec.output_formats if f not in FORMATS]
    elif spec is not None and ctx.params.get("model"):
        formats = []
    else:
        formats = list(FORMATS)
    default = spec.default_output_format if spec is not None else None
    return [
        (f, f"default for {spec.id}" if spec is not None and f == default else "")
        for f in formats
        if f.startswith(incomplete)
    ]


def complete_public_figures(incomplete: str) -> Candidates:
    """``--public-figures``: auto or low."""
    return [(value, help) for value, help in PUBLIC_FIGURES if value.startswith(incomplete)]


def complete_task_id(ctx: typer.Context, incomplete: str) -> Candidates:
    """TASK_ID: the newest task ids in the local history, with their prompts. Ids already on
    the line (``cancel`` takes several) are not offered again."""
    from runway_cli.history import History
    from runway_cli.settings import Paths

    try:
        entries = History(Paths.resolve(os.environ).history).read().entries
    except Exception:  # an unreadable history: no candidates, never an error
        return []
    given = ctx.params.get("task_ids") or ()
    out: Candidates = []
    for entry in entries:
        if entry.id is None or entry.id in given or not entry.id.startswith(incomplete):
            continue
        out.append((entry.id, _shorten(entry.prompt or "")))
        if len(out) == RECENT_TASKS:
            break
    return out


def complete_profile(incomplete: str) -> Candidates:
    """``--profile`` and ``auth use``: the profiles in the config and credentials files, and
    the current one. Says whether a key is stored; never shows it."""
    from runway_cli.credentials import read_keys
    from runway_cli.profiles import DEFAULT_PROFILE, ConfigFile
    from runway_cli.settings import Paths

    try:
        paths = Paths.resolve(os.environ)
    except Exception:
        return []
    try:
        config = ConfigFile.load(paths.config_file)
    except Exception:
        config = ConfigFile(paths.config_file)
    try:
        keys, _ = read_keys(paths.credentials, tighten=False)
    except Exception:
        keys = {}
    current = config.current or DEFAULT_PROFILE
    out: Candidates = []
    for name in sorted(set(keys) | set(config.profiles) | {current}):
        if not name.startswith(incomplete):
            continue
        facts = ["current"] if name == current else []
        facts.append("key stored" if name in keys else "no key")
        if url := config.profile(name).get("base-url"):
            facts.append(url)
        out.append((name, _shorten(", ".join(facts))))
    return out


def complete_setting(incomplete: str) -> Candidates:
    """``config set|unset KEY``: the setting names."""
    from runway_cli.profiles import SETTINGS

    return [(key, help) for key, help in SETTINGS.items() if key.startswith(incomplete)]


def complete_setting_value(ctx: typer.Context, incomplete: str) -> Candidates:
    """``config set KEY VALUE``: model ids for ``model``, the profile's model's ratios for
    ``ratio``; nothing (so the shell offers files) for the others."""
    key = ctx.params.get("key")
    if key == "model":
        return complete_model(ctx, incomplete)
    if key == "ratio":
        return complete_ratio(ctx, incomplete)
    return []


def _descriptions_shown() -> bool:
    """bash shows the values only: reading the settings and profile files to mark the
    default model in a description nobody sees was a third of a ``--model`` completion's
    own time."""
    return not os.environ.get("_RUNWAY_IMG_COMPLETE", "").endswith("_bash")


def _default_model(ctx: typer.Context) -> str:
    """The model a command would use without ``--model``: the profile's (``--profile`` on
    the line, else the usual choice), else the built-in default."""
    from runway_cli.catalog import DEFAULT_MODEL

    settings = _settings(ctx)
    chosen = settings.defaults.get("model") if settings is not None else None
    return chosen or DEFAULT_MODEL


def _model(ctx: typer.Context) -> Model | None:
    """The catalog model in effect: ``--model`` on the line, else the default (None for an
    id the catalog does not know)."""
    from runway_cli.catalog import get_model

    named = ctx.params.get("model")
    return get_model(named if isinstance(named, str) and named else _default_model(ctx))


def _settings(ctx: typer.Context) -> Settings | None:
    from runway_cli.settings import Settings

    profile = ctx.params.get("profile")
    try:
        return Settings.resolve(profile=profile if isinstance(profile, str) else None)
    except Exception:  # a bad profile name or environment value: no profile defaults
        return None


def _model_description(spec: Model, *, default: bool) -> str:
    facts = []
    if spec.prompt_max is not None:
        facts.append(f"prompt up to {spec.prompt_max} chars")
    refs = spec.reference_images
    if refs is None:
        facts.append("no refs")
    elif refs.max is None:
        facts.append(f"{refs.min}+ refs")
    elif refs.min == refs.max:
        facts.append(f"{refs.max} refs")
    else:
        facts.append(f"{refs.min}-{refs.max} refs")
    if default:
        facts.append("default")
    return ", ".join(facts)


def _ratio_description(value: str, *, default: bool) -> str:
    from math import gcd

    from runway_cli.catalog import parse_ratio

    size = parse_ratio(value)
    if size is None:  # auto, auto_1k, ...
        text = "size chosen by the model"
        if "_" in value:
            text += f" (~{value.partition('_')[2]})"
    else:
        width, height = size
        shape = "square" if width == height else "landscape" if width > height else "portrait"
        d = gcd(width, height)
        w, h = width // d, height // d
        text = f"{shape} {w}:{h}" if max(w, h) <= 21 else f"{shape} ~{width / height:.2f}:1"
    return f"{text}, default" if default else text


def _shorten(text: str) -> str:
    """One line of at most DESCRIPTION_WIDTH characters, with nothing a shell or Typer's
    markup rendering would act on (brackets read as Rich markup)."""
    line = " ".join(text.split()).replace("[", "(").replace("]", ")")
    if len(line) > DESCRIPTION_WIDTH:
        line = line[: DESCRIPTION_WIDTH - 1].rstrip() + "…"
    return line
