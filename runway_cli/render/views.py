"""Formatting tasks, models, the history and credits as lines of text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runway_cli.render.console_reporter import describe_state

if TYPE_CHECKING:
    from runway_cli.api.types import Organization, Task
    from runway_cli.catalog import Model
    from runway_cli.history import Entry


def _refs_text(model: Model) -> str:
    refs = model.reference_images
    if refs is None:
        return "-"
    high = "any" if refs.max is None else str(refs.max)
    return f"{refs.min}-{high}"


def models_table(models: list[Model]) -> list[str]:
    """One line per model for ``runway-img models``."""
    rows = [("MODEL", "PROMPT", "REFS", "OUTPUTS", "FORMATS", "RATIOS")]
    for m in models:
        rows.append(
            (
                m.id,
                str(m.prompt_max) if m.prompt_max is not None else "?",
                _refs_text(m),
                m.output_count.describe() if m.output_count else "1",
                ",".join(m.output_formats)
                if m.output_formats
                else ("svg" if m.output_kind == "vector" else "png"),
                str(len(m.ratio.values)) + ("+free" if m.ratio.freeform else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def model_detail(model: Model) -> list[str]:
    """Everything about one model for ``runway-img models ID``."""
    lines = [f"Model:    {model.id}"]
    limit = (
        f"{model.prompt_max} UTF-16 code units"
        if model.prompt_max is not None
        else "not documented (the server decides)"
    )
    lines.append(f"Prompt:   {model.prompt_min}-{model.prompt_max or '?'} ({limit})")
    default = model.ratio.default or "(none: ratio is optional)"
    lines.append(f"Ratio:    default {default}{'' if model.ratio.required else ', optional'}")
    for i in range(0, len(model.ratio.values), 8):
        lines.append("          " + "  ".join(model.ratio.values[i : i + 8]))
    if model.ratio.freeform:
        lines.append(
            f"          or any WIDTH:HEIGHT with {model.ratio.freeform_min_pixels:,}-"
            f"{model.ratio.freeform_max_pixels:,} pixels"
        )
    refs = model.reference_images
    if refs is None:
        lines.append("Refs:     none")
    else:
        extras = []
        if "tag" in refs.fields:
            extras.append("tags (TAG=FILE)")
        if "subject" in refs.fields:
            limits = ", ".join(f"{n} {s}" for s, n in refs.subject_limits.items())
            extras.append(f"subjects @human/@object (at most {limits})")
        lines.append(f"Refs:     {_refs_text(model)}{'; ' + '; '.join(extras) if extras else ''}")
    lines.append(
        f"Outputs:  {model.output_count.describe() if model.output_count else '1 (no --count)'}"
    )
    if model.output_formats:
        lines.append(
            f"Formats:  {', '.join(model.output_formats)} (default {model.default_output_format})"
        )
    elif model.output_kind == "vector":
        lines.append("Formats:  svg")
    for name, p in model.params.items():
        if p.type == "enum":
            what = " | ".join(p.values)
        elif p.type == "int" and p.min is not None:
            what = f"integer {p.min}-{p.max}"
        else:
            what = p.type.replace("_", " ")
        option = {
            "seed": "--seed",
            "contentModeration.publicFigureThreshold": "--public-figures",
        }.get(name, f"-p {name}=")
        lines.append(f"Param:    {name}: {what}  ({option})")
    if model.notes:
        lines.append(f"Notes:    {model.notes}")
    if model.source != "openapi+sdk":
        lines.append("Source:   SDK only; limits may be incomplete")
    return lines


def task_view(task: Task) -> list[str]:
    """Human-readable lines for ``runway-img status``."""
    lines = [f"Task:     {task.id}", f"State:    {task.status_text} ({describe_state(task)})"]
    if task.created_at:
        lines.append(f"Created:  {task.created_at}")
    if task.credits is not None:
        label = "Cost:    " if task.credits_final else "Estimate:"
        lines.append(f"{label} {task.credits:g} credits")
    if task.failure is not None:
        lines.append(f"Failure:  {task.failure.message}")
        if task.failure.code:
            lines.append(f"Code:     {task.failure.code}")
    for n, url in enumerate(task.output_urls, start=1):
        lines.append(f"Output {n}: {url}")
    return lines


_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(32), *range(127, 160))}
_CONTROLS_BUT_LINES = {c: shown for c, shown in _CONTROLS.items() if chr(c) not in "\n\t"}


def visible_talk(text: str) -> str:
    """``text`` for a line of talk: control characters other than newline and tab shown as
    ``\\x1b``. Messages quote what users and files gave (a model id, a config value), and
    those must never reach the terminal as escapes."""
    return text.translate(_CONTROLS_BUT_LINES)


def visible(text: str) -> str:
    """``text`` with control characters shown as ``\\x1b``: a history written by an older
    version (or by hand) must not send escapes to the terminal (titles, clears, colours)."""
    return text.translate(_CONTROLS)


def history_lines(rows: list[Entry]) -> list[str]:
    """One line per task for ``runway-img history``."""
    lines = []
    for row in rows:
        prompt = visible((row.prompt or "").replace("\n", " "))
        if len(prompt) > 40:
            prompt = prompt[:39] + "…"
        files = f"  {visible(', '.join(row.files))}" if row.files else ""
        noted = f"  ({visible(row.note)})" if row.note and row.id is None else ""
        lines.append(
            visible(f"{row.id or '?' * 36}  {row.created}  {row.status:<9}  {row.model or '-'}  ")
            + f"{prompt}{files}{noted}"
        )
    return lines


def auth_lines(info: dict[str, Any]) -> list[str]:
    """``runway-img auth status`` as lines."""
    key = f"{info['key']} (from {info['source']})" if info.get("key") else "none usable"
    lines = [
        f"Key:     {key}",
        f"Profile: {info.get('profile')} ({info.get('profileSource')})",
        f"API:     {info['baseUrl']}",
    ]
    if info["valid"]:
        lines.append(f"Valid:   yes (credit balance: {info.get('creditBalance')})")
    elif info["valid"] is None:
        lines.append("Valid:   unknown (the API could not be reached)")
    else:
        lines.append("Valid:   no")
    return lines


def credits_lines(org: Organization) -> list[str]:
    """``runway-img credits``: the balance, then one row per model."""
    balance = "unknown" if org.credit_balance is None else f"{org.credit_balance:,}"
    lines = [f"Credit balance: {balance}"]
    if org.max_monthly_spend is not None:
        lines.append(f"Monthly spend limit: {org.max_monthly_spend:,}")
    rows = [("MODEL", "CONCURRENT", "DAILY LIMIT", "USED TODAY")]
    for name, limits in org.models.items():
        rows.append(
            (
                name,
                "-" if limits.max_concurrent is None else str(limits.max_concurrent),
                "-" if limits.max_daily is None else str(limits.max_daily),
                str(limits.used_today),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines
