"""``runway-img models`` and the catalog through the CLI, table-driven over every model.

Every model creates a task for real against the sandbox on 127.0.0.1 with every option it
takes (the sandbox checks bodies independently; the body it received is exactly the --dry-run
body), and one model per kind of output is followed to saved files. Every limit of every model,
one past the edge, is refused by the body check; one case of each kind goes through the
command line, where the sandbox sees no request at all. In-process (the shared ``cli``
fixture); HTTP is real. One sandbox serves the module: starting one per case cost more than
the cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runway_cli.catalog import Model, all_models, get_model, parse_ratio
from runway_cli.errors import UsageError
from runway_cli.image_types import sniff
from runway_cli.references import parse_ref
from runway_cli.request_body import Options, build
from runway_cli.sandbox import SandboxServer
from runway_cli.sandbox.images import make_png
from tests.conftest import FAST, KEY

MODELS = list(all_models().values())
REF_PNG = make_png("ref", 64, 64)


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    with SandboxServer(keys=[KEY], timeline=FAST) as server:
        yield server


@pytest.fixture(autouse=True)
def sandbox(shared, monkeypatch, workdir) -> Iterator[SandboxServer]:
    """Every test talks to the module's sandbox and has a small reference image at hand; it
    fails if any request it did not expect reached the sandbox."""
    monkeypatch.setenv("RUNWAYML_BASE_URL", shared.base_url)
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    (workdir / "ref.png").write_bytes(REF_PNG)
    yield shared


@contextmanager
def requests_during(sandbox: SandboxServer) -> Iterator[list[dict]]:
    """The requests the sandbox logged inside the ``with`` block (filled in at its end)."""
    before = len(sandbox.requests)
    logged: list[dict] = []
    yield logged
    logged.extend(sandbox.requests[before:])


def _valid_param(name: str, spec) -> str | None:
    return {
        # the last value: first ones can be special (ideogram's very_low needs references)
        "enum": spec.values[-1] if spec.values else None,
        "int": str(spec.min if spec.min is not None else 7),
        "bool": "true",
        "hex_color": "ff8800",
        "hex_color_list": "ff0000,00ff00",
        "image": "ref.png",
        "str": "x",
    }.get(spec.type)


def _smallest_ratio(m: Model) -> str | None:
    """The listed ratio with the fewest pixels (the sandbox draws every pixel), unless a
    cross-field rule involves the ratio (then the model's default keeps the body valid)."""
    if any("ratio" in rule.when for rule in m.constraints):
        return None
    sizes = {v: parse_ratio(v) for v in m.ratio.values}
    keyword = {"auto": (1024, 1024), "auto_1k": (1024, 1024)}
    pixels = {v: (size or keyword.get(v, (4096, 4096))) for v, size in sizes.items()}
    return min(pixels, key=lambda v: pixels[v][0] * pixels[v][1])


def _valid_args(m: Model) -> tuple[list[str], int, str]:
    """Arguments exercising every option the model takes; expected output count and kind."""
    args = ["generate", "a lighthouse at dusk", "--model", m.id]
    refs = m.reference_images
    if refs is not None:
        for i in range(max(refs.min, 1)):
            tag = f"ref{i}x" if "tag" in refs.fields else None
            subject = "@human" if "subject" in refs.fields else ""
            args += ["--ref", f"{tag}=ref.png{subject}" if tag else f"ref.png{subject}"]
    ratio = _smallest_ratio(m)
    if ratio is not None:
        args += ["--ratio", ratio]
    count = 1
    if m.output_count is not None:
        choices = m.output_count.choices or (2,)
        count = min(c for c in choices if c > 1)
        args += ["--count", str(count)]
    kind = "svg" if m.output_kind == "vector" else "png"
    if m.output_formats:
        fmt = "jpeg" if "jpeg" in m.output_formats else m.output_formats[0]
        args += ["--format", fmt]
        kind = "jpg" if fmt == "jpeg" else "png"  # the sandbox serves WebP requests as PNG
    elif m.default_output_format == "jpeg":
        kind = "jpg"
    for name, spec in m.params.items():
        value = _valid_param(name, spec)
        if name == "seed":
            args += ["--seed", value or "7"]
        elif name == "contentModeration.publicFigureThreshold":
            args += ["--public-figures", "low"]
        elif value is not None:
            args += ["-p", f"{name}={value}"]
    return args, count, kind


def _comparable(body: dict) -> dict:
    """The body with image data left out (the dry run shortens data: URIs)."""
    body = json.loads(json.dumps(body))
    for ref in body.get("referenceImages", []):
        ref["uri"] = "…"
    if "maskUri" in body:
        body["maskUri"] = "…"
    return body


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
def test_every_model_takes_every_option_it_lists(cli, sandbox, model):
    args, _, _ = _valid_args(model)
    with requests_during(sandbox) as logged:
        dry = cli(*args, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert logged == []
    planned = json.loads(dry.stdout)
    # The body check below reads these arguments as generate does: the same body.
    assert planned == build(_options(args)).display_body()

    with requests_during(sandbox) as logged:
        created = cli(*args, "--no-wait", "--json")
    assert created.code == 0, created.stderr  # the sandbox accepted the body
    assert json.loads(created.stdout)["status"] == "PENDING"
    (create,) = [e for e in logged if e["path"] == "/v1/text_to_image"]
    for ref in create["json"].get("referenceImages", []):
        assert ref["uri"].startswith("data:image/png;base64,")
    assert _comparable(create["json"]) == _comparable(planned)


# One model per kind of output: PNG, JPEG asked for, WebP asked for (served as PNG), SVG from a
# vector model, and several outputs of a model with fixed choices.
SAVED_KINDS = [
    "gen4_image_turbo",
    "seedream5_pro",
    "recraft_v4_1_flash",
    "recraft_v4_1_vector",
    "gemini_image3.1_flash",
]


@pytest.mark.parametrize("model_id", SAVED_KINDS)
def test_outputs_are_saved_with_the_kind_and_count_asked_for(cli, workdir, api_env, model_id):
    model = get_model(model_id)
    assert model is not None
    args, count, kind = _valid_args(model)
    result = cli(*args, "-o", "out/{id}/{n}.{ext}", env=api_env)  # this test's own sandbox
    assert result.code == 0, result.stderr
    paths = [Path(p) for p in result.stdout.split()]
    assert len(paths) == count
    for path in paths:
        assert path.suffix == f".{kind}"
        assert sniff((workdir / path).read_bytes()[:512]) == kind


def _over_the_edge(m: Model) -> list[tuple[str, list[str]]]:
    """(description, extra args) for each limit of the model, one past the edge."""
    cases: list[tuple[str, list[str]]] = []
    base = ["generate", "--model", m.id]
    if m.prompt_max is not None:
        cases.append(("prompt too long", [*base, "x" * (m.prompt_max + 1)]))
    cases.append(("bad ratio", [*base, "a fox", "--ratio", "1:1"]))
    refs = m.reference_images
    if refs is None:
        cases.append(("refs not taken", [*base, "a fox", "--ref", "ref.png"]))
    else:
        if refs.max is not None:
            cases.append(
                ("too many refs", [*base, "a fox"] + ["--ref", "ref.png"] * (refs.max + 1))
            )
        if refs.min > 0:
            cases.append(("too few refs", [*base, "a fox"] + ["--ref", "ref.png"] * (refs.min - 1)))
        minimum = ["--ref", "ref.png"] * max(refs.min, 1)
        if "tag" not in refs.fields:
            cases.append(("tag not taken", [*base, "a fox", "--ref", "abc=ref.png"]))
        else:
            dup = ["--ref", "same=ref.png", "--ref", "same=ref.png"]
            if refs.max is None or refs.max >= 2:
                cases.append(("duplicate tags", [*base, "a fox", *dup]))
        if "subject" not in refs.fields:
            cases.append(("subject not taken", [*base, "a fox", *minimum[:-1], "ref.png@human"]))
        else:
            for subject, limit in refs.subject_limits.items():
                many = ["--ref", f"ref.png@{subject}"] * (limit + 1)
                cases.append((f"too many {subject}", [*base, "a fox", *many]))
    else_refs = ["--ref", "ref.png"] * (refs.min if refs else 0)
    if m.output_count is None:
        cases.append(("count not taken", [*base, "a fox", *else_refs, "--count", "2"]))
    elif m.output_count.choices is not None:
        cases.append(("count not a choice", [*base, "a fox", *else_refs, "--count", "2"]))
    else:  # documented maximum, or the cap of 10 where none is documented
        too_many = str(m.output_count.limit + 1)
        cases.append(("count too big", [*base, "a fox", *else_refs, "--count", too_many]))
    if m.output_formats is None:
        cases.append(("format not taken", [*base, "a fox", *else_refs, "--format", "png"]))
    else:
        cases.append(("format not offered", [*base, "a fox", *else_refs, "--format", "gif"]))
    if "seed" not in m.params:
        cases.append(("seed not taken", [*base, "a fox", *else_refs, "--seed", "1"]))
    for name, spec in m.params.items():
        bad = {
            "enum": "nope",
            "int": str(spec.max + 1) if spec.max is not None else "1.5",
            "bool": "maybe",
            "hex_color": "xyz",
            "hex_color_list": "red",
            "image": "missing.png",
        }.get(spec.type)
        if bad is not None:
            cases.append((f"bad {name}", [*base, "a fox", *else_refs, "-p", f"{name}={bad}"]))
    cases.append(("unknown param", [*base, "a fox", *else_refs, "-p", "nope=1"]))
    return cases


CASES = [(m, desc, args) for m in MODELS for desc, args in _over_the_edge(m)]
# Through the command line: the first model with each kind of limit (the command layer is the
# same for every model; the body check below covers every model's every limit).
CLI_CASES = list({desc: (m, desc, args) for m, desc, args in reversed(CASES)}.values())

_VALUE_OPTIONS = {
    "--model": "model",
    "--ratio": "ratio",
    "--count": "count",
    "--format": "output_format",
    "--seed": "seed",
    "--public-figures": "public_figures",
}


def _options(args: list[str]) -> Options:
    """The Options ``generate`` builds from these arguments (its own parsing is typer's)."""
    fields: dict = {"refs": [], "params": []}
    words = iter(args[1:])
    for word in words:
        if word == "--ref":
            fields["refs"].append(parse_ref(next(words)))
        elif word == "-p":
            fields["params"].append(next(words))
        elif word in _VALUE_OPTIONS:
            value = next(words)
            fields[_VALUE_OPTIONS[word]] = int(value) if word in ("--count", "--seed") else value
        else:
            fields["prompt"] = word
    return Options(**fields)


@pytest.mark.parametrize(
    ("model", "desc", "args"), CASES, ids=[f"{m.id}-{d.replace(' ', '_')}" for m, d, _ in CASES]
)
def test_every_limit_of_every_model_is_refused_by_the_body_check(model, desc, args):
    with pytest.raises(UsageError):
        build(_options(args))


@pytest.mark.parametrize(
    ("model", "desc", "args"),
    CLI_CASES,
    ids=[f"{m.id}-{d.replace(' ', '_')}" for m, d, _ in CLI_CASES],
)
def test_a_limit_is_refused_before_any_request(cli, sandbox, model, desc, args):
    with requests_during(sandbox) as logged:
        result = cli(*args)
    assert logged == []
    assert result.code == 2, (desc, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr


def test_option_errors_name_the_models_that_take_it(cli, sandbox):
    r = cli("generate", "a fox", "--count", "2")
    assert r.code == 2
    assert "gen4_image does not take --count. Models that do:" in r.stderr
    assert "gpt_image_2" in r.stderr and "gemini_image3_pro" in r.stderr


def test_models_list_and_detail(cli):
    r = cli("models")
    assert r.code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "PROMPT", "REFS"]
    assert len(lines) == 1 + len(MODELS)
    gemini = next(line for line in lines if line.startswith("gemini_image3_pro "))
    assert gemini.split()[1:4] == ["5500", "0-14", "1"]  # "1 or 4" outputs
    d = cli("models", "gen4_image")
    assert "1280:720" in d.stdout and "seed: integer 0-4294967295" in d.stdout
    listed = json.loads(cli("models", "--json").stdout)["models"]
    assert [m["id"] for m in listed] == [m.id for m in MODELS]
    one = json.loads(cli("models", "gen4_image_turbo", "--json").stdout)
    assert one["referenceImages"] == {"min": 1, "max": 3, "fields": ["tag"], "subjectLimits": None}
    u = cli("models", "gen4")
    assert u.code == 2 and "Did you mean: gen4_image_turbo, gen4_image" in u.stderr


CROSS_FIELD = [
    ("grok_imagine_image_2", ["-p", "edit=true"], "edit=true needs at least one --ref"),
    ("ideogram_4_5", ["-p", "preciseEdit=true"], "preciseEdit=true needs at least one --ref"),
    ("ideogram_4_5", ["-p", "quality=very_low"], "quality=very_low needs reference images"),
    (
        "ideogram_4_5",
        ["--ref", "ref.png", "-p", "preciseEdit=true", "-p", "quality=very_low"],
        "not available with preciseEdit",
    ),
    ("ideogram_4_5", ["--ratio", "1024:1024", "-p", "maskUri=ref.png"], "cannot be combined"),
    (
        "ideogram_4_5",
        ["--ref", "ref.png", "--ratio", "1024:1024", "-p", "preciseEdit=true"],
        "cannot be combined",
    ),
    ("bria_fibo_edit_1_5", ["--ref", "ref.png", "--ratio", "1024:1024"], "at least 2 reference"),
    (
        "gemini_image3_pro",
        [a for _ in range(9) for a in ("--ref", "ref.png@object")] + ["--ref", "ref.png"],
        "references without @human count as @object",
    ),
]


@pytest.mark.parametrize(("model", "args", "needle"), CROSS_FIELD)
def test_cross_field_rules_are_refused_before_any_request(cli, sandbox, model, args, needle):
    with requests_during(sandbox) as logged:
        result = cli("generate", "a fox", "--model", model, *args)
    assert logged == []
    assert result.code == 2, result.stderr
    assert needle in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--ref", "ref.png", "--ref", "ref.png", "--ratio", "1024:1024"],
        ["--ref", "ref.png", "--ratio", "auto"],
    ],
)
def test_cross_field_rules_allow_the_valid_combination(cli, args):
    ok = cli("generate", "a fox", "-m", "bria_fibo_edit_1_5", *args, "--dry-run")
    assert ok.code == 0, ok.stderr
