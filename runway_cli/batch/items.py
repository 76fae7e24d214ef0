"""Every item of a batch resolved and checked before anything is sent, and its key.

An item is one line of the batch file (``lines``) under one ``--vary`` combination
(``grid``). Command-line options are the defaults for every item. Each item is built with
``request_body.build``, exactly as ``generate`` builds its request, so a batch refuses what
``generate`` refuses, and every bad item is reported with its line number before any task is
created. A per-item ``output`` is a name or template inside the output folder.

An item is identified across reruns by a hash of its resolved request body and its ``--vary``
combination (``item_key``), not by its line number, which shifts when the file is edited.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from runway_cli.batch.grid import Combination, Vary, apply, combinations
from runway_cli.batch.lines import LineItem, Problem, parse_lines
from runway_cli.catalog import get_model
from runway_cli.errors import UsageError
from runway_cli.output_paths import PROBE_ID, check_template, is_template, plan_paths
from runway_cli.references import LocalImage, parse_ref
from runway_cli.request_body import Options, Prepared, build


@dataclass(frozen=True)
class Defaults:
    """The command line's options: what every item has unless it says otherwise."""

    model: str
    ratio: str | None = None
    seed: int | None = None
    count: int | None = None
    refs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # -p KEY=VALUE
    output_format: str | None = None
    output: str | None = None  # a name or template inside the output folder
    profile_ratio: str | None = None  # used only where the item's model accepts it


@dataclass(frozen=True)
class BatchItem:
    """One task to make: a line of the file under one ``--vary`` combination, checked."""

    line: int
    key: str
    options: Options
    output: str | None  # relative to the output folder; None: <task id>.<ext>
    vary: Combination
    ratio: str | None  # as sent (the model's default when the item gave none)
    seed: int | None
    images: int
    ext: str

    @property
    def model(self) -> str:
        return self.options.model

    @property
    def prompt(self) -> str:
        return self.options.prompt

    def prepare(self) -> Prepared:
        """The request body again (local reference images are read again, not kept)."""
        return build(self.options)


@dataclass(frozen=True)
class BatchPlan:
    items: tuple[BatchItem, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def images(self) -> int:
        return sum(item.images for item in self.items)


# -- resolving and checking -------------------------------------------------------------------


MAX_TASKS = 10_000  # in one batch: a --vary typo must not become a million creates


def load(data: bytes, defaults: Defaults, varies: Sequence[Vary]) -> BatchPlan:
    """The batch file's bytes as a checked plan: every item, or every problem."""
    lines, problems = parse_lines(data)
    tasks = len(lines) * math.prod(len(v.values) for v in varies)
    if tasks > MAX_TASKS:  # counted before anything is built: a big grid costs no time
        grid = " x ".join(str(len(v.values)) for v in varies)
        raise UsageError(
            f"The batch would make {tasks:,} tasks ({len(lines):,} lines"
            f"{' x ' + grid if grid else ''}); one batch makes at most {MAX_TASKS:,}.",
            hint="Split the file, or vary fewer values at a time.",
        )
    checked = plan(lines, defaults, varies)
    if not lines and not problems:
        problems.append(Problem(0, "The batch file has no prompts."))
    every = sorted([*problems, *checked.problems], key=lambda p: p.line)
    return BatchPlan(checked.items, tuple(every), checked.warnings)


def plan(lines: Sequence[LineItem], defaults: Defaults, varies: Sequence[Vary]) -> BatchPlan:
    """Every line under every combination, built and checked; all problems at once."""
    items: list[BatchItem] = []
    problems: list[Problem] = []
    warnings: dict[str, None] = {}
    seen: Counter[str] = Counter()
    combos = combinations(varies)
    for line in lines:
        failed: dict[str, list[Combination]] = {}
        for combo in combos:
            try:
                item, prepared = _resolve(apply(line, combo), defaults, combo)
            except UsageError as exc:
                failed.setdefault(exc.message, []).append(combo)
                continue
            warnings.update(dict.fromkeys(prepared.warnings))
            base = item.key
            seen[base] += 1
            if seen[base] > 1:  # the same request again: a distinct item, stable on reruns
                item = replace(item, key=_digest(f"{base}#{seen[base]}"))
            items.append(item)
        problems.extend(_line_problems(line.line, failed, varies))
    problems.extend(_clashing_outputs(items))
    return BatchPlan(tuple(items), tuple(problems), tuple(warnings))


def _line_problems(
    line: int,
    failed: dict[str, list[Combination]],
    varies: Sequence[Vary],
) -> list[Problem]:
    """One problem per reason, naming the --vary values it happens with (only those that
    matter: a key whose every value fails is left out)."""
    out = []
    for reason, combos in failed.items():
        parts = []
        for index, vary in enumerate(varies):
            values = [v for v in vary.values if any(c[index][1] == v for c in combos)]
            if len(values) < len(vary.values):
                parts.append(f"{vary.key}={','.join(values)}")
        out.append(Problem(line, reason, " ".join(parts)))
    return out


def _describe(combo: Combination) -> str:
    return ", ".join(f"{k}={v}" for k, v in combo)


def _resolve(line: LineItem, defaults: Defaults, combo: Combination) -> tuple[BatchItem, Prepared]:
    model = line.model or defaults.model
    ratio = line.ratio or defaults.ratio
    if ratio is None and defaults.profile_ratio is not None:
        spec = get_model(model)
        if spec is None or spec.ratio.accepts(defaults.profile_ratio):
            ratio = defaults.profile_ratio
    refs = line.refs if line.refs is not None else defaults.refs
    params = _merge_params(defaults.params, line.params)
    options = Options(
        model=model,
        prompt=line.prompt,
        ratio=ratio,
        refs=[parse_ref(r) for r in refs],
        count=line.count if line.count is not None else defaults.count,
        seed=line.seed if line.seed is not None else defaults.seed,
        output_format=line.output_format or defaults.output_format,
        params=params,
    )
    output = line.output if line.output is not None else defaults.output
    if output is not None:
        check_item_output(output, model=model, seed=options.seed)
    prepared = build(options)
    seed = prepared.body.get("seed")
    item = BatchItem(
        line=line.line,
        key=item_key(prepared, combo),
        options=options,
        output=output,
        vary=combo,
        ratio=prepared.body.get("ratio"),
        seed=seed if isinstance(seed, int) else None,
        images=prepared.expected_outputs,
        ext=prepared.expected_ext,
    )
    return item, prepared


def _merge_params(defaults: Sequence[str], line: dict[str, str]) -> list[str]:
    """-p values, then the line's ``params`` (a line's value replaces the default's)."""
    merged: dict[str, str] = {}
    for item in defaults:
        name, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"-p expects key=value, not {item!r}.")
        merged[name.strip()] = raw
    merged.update(line)
    return [f"{name}={raw}" for name, raw in merged.items()]


def check_item_output(output: str, *, model: str, seed: int | None) -> None:
    """An item's output: a name or template inside the output folder, never outside it."""
    if not output.strip():
        raise UsageError("output must not be empty")
    path = PurePath(output)
    if path.is_absolute() or output.startswith(("/", "\\", "~")):
        raise UsageError(f"output {output!r} must be relative to the output folder")
    if ".." in path.parts or ".." in output.replace("\\", "/").split("/"):
        raise UsageError(f"output {output!r} must stay inside the output folder (no ..)")
    if output.endswith(("/", "\\")):
        raise UsageError(f"output {output!r} names a folder; give a file name or template")
    if is_template(output):
        check_template(output, model=model, seed=seed)


def _clashing_outputs(items: Sequence[BatchItem]) -> list[Problem]:
    """Items whose output names collide: a name or template without {id} that fills in the
    same for two items would make the second refuse to overwrite the first."""
    owners: dict[str, int] = {}
    problems: list[Problem] = []
    for item in items:
        if item.output is None or "{id}" in item.output.replace(" ", ""):
            continue
        paths = plan_paths(
            PROBE_ID, item.images, item.output, item.ext, model=item.model, seed=item.seed
        )
        for path in paths:
            name = str(path)
            if name not in owners:
                owners[name] = item.line
                continue
            owner = owners[name]
            where = "another item of this line (--vary)" if owner == item.line else f"line {owner}"
            problems.append(
                Problem(
                    item.line,
                    f"output {name} is also the output of {where}; "
                    "add {id} or a varied field such as {seed} to the name",
                )
            )
    return problems


# -- keys -------------------------------------------------------------------------------------


def item_key(prepared: Prepared, combo: Combination) -> str:
    """A hash of the resolved request (images by their bytes) and the --vary combination."""
    uploads = [
        [list(path), hashlib.sha256(image.data).hexdigest()]
        for path, image in prepared.uploads
        if isinstance(image, LocalImage)
    ]
    material = {"body": prepared.body, "uploads": uploads, "vary": [list(c) for c in combo]}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _digest(text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
