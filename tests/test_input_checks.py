"""Unit tests for runway_cli.input_checks: local checks that run before any request."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runway_cli import catalog
from runway_cli.errors import CredentialsError, UsageError
from runway_cli.input_checks import (
    check_api_key,
    check_base_url,
    check_output_option,
    check_prompt,
    check_ratio,
    check_task_id,
    check_timeout,
)

GEN4 = catalog.get_model("gen4_image")
SEEDREAM_LITE = catalog.get_model("seedream5_lite")
LIMIT = 1000


def test_fixture_models_exist() -> None:
    assert GEN4 is not None
    assert GEN4.prompt_max == LIMIT
    assert SEEDREAM_LITE is not None
    assert SEEDREAM_LITE.ratio.freeform


def utf16_units(text: str) -> int:
    """Independent oracle: characters outside the BMP take two UTF-16 code units."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


# --- check_prompt -------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", " ", "   \t\n  ", "\u3000\u00a0"])
def test_check_prompt_rejects_empty_and_whitespace(prompt: str) -> None:
    with pytest.raises(UsageError, match="empty") as info:
        check_prompt(prompt, GEN4)
    assert info.value.hint is not None


def test_check_prompt_rejects_empty_even_without_model() -> None:
    with pytest.raises(UsageError, match="empty"):
        check_prompt("  ", None)


def test_check_prompt_accepts_exactly_at_limit() -> None:
    check_prompt("a" * LIMIT, GEN4)


def test_check_prompt_rejects_one_over_and_says_by_how_much() -> None:
    with pytest.raises(UsageError) as info:
        check_prompt("a" * (LIMIT + 1), GEN4)
    message = info.value.message
    assert f"{LIMIT + 1} characters" in message
    assert f"at most {LIMIT}" in message
    assert "(1 too many" in message
    assert "gen4_image" in message


def test_check_prompt_reports_larger_overflow() -> None:
    with pytest.raises(UsageError, match=r"\(250 too many"):
        check_prompt("b" * (LIMIT + 250), GEN4)


def test_check_prompt_counts_emoji_as_two_units() -> None:
    check_prompt("\U0001f600" * (LIMIT // 2), GEN4)  # 1000 units: OK
    with pytest.raises(UsageError, match=r"1002 characters.*\(2 too many"):
        check_prompt("\U0001f600" * (LIMIT // 2 + 1), GEN4)


def test_check_prompt_emoji_pushes_over_limit_by_one() -> None:
    # 999 ASCII characters + one emoji = 1001 UTF-16 units, though only 1000 code points.
    prompt = "a" * (LIMIT - 1) + "\U0001f600"
    assert len(prompt) == LIMIT
    with pytest.raises(UsageError, match=r"\(1 too many"):
        check_prompt(prompt, GEN4)


def test_check_prompt_counts_combining_marks_one_each() -> None:
    # "e" + COMBINING ACUTE ACCENT is one glyph but two code units.
    check_prompt("e\u0301" * (LIMIT // 2), GEN4)
    with pytest.raises(UsageError, match=r"\(2 too many"):
        check_prompt("e\u0301" * (LIMIT // 2 + 1), GEN4)


def test_check_prompt_unknown_model_skips_length() -> None:
    check_prompt("a" * 100_000, None)


def test_check_prompt_model_without_limit_skips_length() -> None:
    unlimited = catalog.get_model("seedream5_flash")
    assert unlimited is not None
    assert unlimited.prompt_max is None
    check_prompt("a" * 100_000, unlimited)


@pytest.mark.parametrize("model", [GEN4, None])
def test_check_prompt_lone_surrogate_is_a_usage_error(model: catalog.Model | None) -> None:
    # Non-UTF-8 bytes in argv arrive as lone surrogates (surrogateescape); they must give a
    # clean UsageError, not a UnicodeEncodeError from the UTF-16 count.
    with pytest.raises(UsageError, match="not valid UTF-8"):
        check_prompt("a red fox \udcff", model)


# --- property test ------------------------------------------------------------------------

_emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
_astral = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)
_combining = st.characters(categories=["Mn"])
_spaces = st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000")
_any_char = st.characters(exclude_categories=["Cs"])
_chars = st.one_of(_any_char, _emoji, _astral, _combining, _spaces)


@st.composite
def near_limit_text(draw: st.DrawFn) -> str:
    """A fragment repeated to land within a few units of the limit, plus a short tail."""
    fragment = draw(st.text(_chars, min_size=1, max_size=4))
    repeats = LIMIT // utf16_units(fragment) + draw(st.integers(-2, 2))
    tail = draw(st.text(_chars, max_size=3))
    return fragment * max(repeats, 0) + tail


prompts = st.one_of(
    st.text(_chars, max_size=60),
    st.text(st.one_of(_spaces, _combining), max_size=10),
    near_limit_text(),
)


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts)
@example("")
@example(" \n\t")
@example("a" * LIMIT)
@example("a" * (LIMIT + 1))
@example("\U0001f600" * 500)
@example("\U0001f600" * 500 + "a")
@example("e\u0301" * 500)
@example("\u0301" * 1001)
@example("a \x1b[2J fox")
@example("nul\x00")
@example("c1 \x9b")
def test_check_prompt_property(text: str) -> None:
    controls = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) <= 159]
    should_accept = bool(text.strip()) and utf16_units(text) <= LIMIT and not controls
    try:
        check_prompt(text, GEN4)
    except UsageError:
        accepted = False
    else:
        accepted = True
    assert accepted == should_accept


# --- check_ratio --------------------------------------------------------------------------


def test_check_ratio_accepts_listed_ratio() -> None:
    assert GEN4 is not None
    for ratio in GEN4.ratio.values:
        check_ratio(ratio, GEN4)


def test_check_ratio_invalid_lists_valid_ratios() -> None:
    with pytest.raises(UsageError) as info:
        check_ratio("999:999", GEN4)
    message = info.value.message
    assert "999:999" in message
    assert "Valid ratios:" in message
    assert "1280:720" in message
    assert "1024:1024" in message


def test_check_ratio_long_list_is_truncated_with_pointer_to_models_command() -> None:
    assert GEN4 is not None
    assert len(GEN4.ratio.values) > 12
    with pytest.raises(UsageError) as info:
        check_ratio("1:1", GEN4)
    more = len(GEN4.ratio.values) - 12
    assert f"(and {more} more: runway-img models gen4_image)" in info.value.message


def test_check_ratio_non_freeform_model_refuses_unlisted_size() -> None:
    with pytest.raises(UsageError) as info:
        check_ratio("2000:2000", GEN4)
    assert "pixels" not in info.value.message


@pytest.mark.parametrize("ratio", ["2000:2000", "1920:1920", "4096:4096", "3000:1500"])
def test_check_ratio_freeform_within_bounds(ratio: str) -> None:
    check_ratio(ratio, SEEDREAM_LITE)


@pytest.mark.parametrize("ratio", ["1000:1000", "1919:1920", "4096:4097", "5000:5000", "0:2000"])
def test_check_ratio_freeform_outside_bounds(ratio: str) -> None:
    with pytest.raises(UsageError) as info:
        check_ratio(ratio, SEEDREAM_LITE)
    # The message explains the freeform range with thousands separators.
    assert "3,686,400" in info.value.message
    assert "16,777,216" in info.value.message


@pytest.mark.parametrize("ratio", ["16:9", "auto", "auto_2k"])
def test_check_ratio_without_model_accepts_plausible_values(ratio: str) -> None:
    check_ratio(ratio, None)


@pytest.mark.parametrize("ratio", ["16 x 9", "wide!", "16:9:1", "AUTO"])
def test_check_ratio_without_model_rejects_junk(ratio: str) -> None:
    with pytest.raises(UsageError, match="WIDTH:HEIGHT"):
        check_ratio(ratio, None)


# --- check_task_id ------------------------------------------------------------------------


def test_check_task_id_normalises() -> None:
    raw = "  8C0B7D8E-3F5A-4D8E-9B1C-2A6F0E4D5C3B\n"
    assert check_task_id(raw) == "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"


def test_check_task_id_round_trips_canonical() -> None:
    task_id = str(uuid.uuid4())
    assert check_task_id(task_id) == task_id


@pytest.mark.parametrize("junk", ["", "   ", "not-a-task", "8c0b7d8e-3f5a", "g" * 32, "1234"])
def test_check_task_id_rejects_junk(junk: str) -> None:
    with pytest.raises(UsageError, match="is not a task id") as info:
        check_task_id(junk)
    assert info.value.hint is not None
    assert "history" in info.value.hint


# --- check_timeout ------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.0, -0.0, -1.0, math.nan, math.inf, -math.inf])
def test_check_timeout_rejects(timeout: float) -> None:
    with pytest.raises(UsageError, match="--timeout must be a positive number"):
        check_timeout(timeout)


@pytest.mark.parametrize("timeout", [0.001, 1.0, 600.0, 86400.0])
def test_check_timeout_accepts_positive_finite(timeout: float) -> None:
    check_timeout(timeout)  # no error


# --- check_base_url -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.dev.runwayml.com", "https://api.dev.runwayml.com"),
        ("https://api.dev.runwayml.com/", "https://api.dev.runwayml.com"),
        ("  https://api.dev.runwayml.com//  ", "https://api.dev.runwayml.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://localhost:1234", "http://localhost:1234"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_check_base_url_accepts(url: str, expected: str) -> None:
    assert check_base_url(url) == (expected, None)


@pytest.mark.parametrize(
    "url", ["http://api.dev.runwayml.com", "http://10.0.0.5:8080", "http://example.com/"]
)
def test_check_base_url_refuses_plain_http_to_remote_host(url: str) -> None:
    with pytest.raises(UsageError, match="Refusing to send the API key over plain http") as info:
        check_base_url(url)
    assert info.value.hint is not None
    assert "https://" in info.value.hint


@pytest.mark.parametrize(
    "url", ["http://127.attacker.example", "http://127.0.0.1.example.com", "http://localhost.evil"]
)
def test_check_base_url_refuses_dns_name_that_only_looks_local(url: str) -> None:
    with pytest.raises(UsageError, match="plain http"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["http://127.1.2.3:80", "http://[::1]", "http://LOCALHOST:9"])
def test_check_base_url_accepts_other_loopback_forms(url: str) -> None:
    assert check_base_url(url) == (url, None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.dev.runwayml.com/v1", "https://api.dev.runwayml.com"),
        ("https://api.dev.runwayml.com/v1/", "https://api.dev.runwayml.com"),
        ("http://127.0.0.1:8765//v1", "http://127.0.0.1:8765"),
        ("https://proxy.example/runway/v1", "https://proxy.example/runway"),
    ],
)
def test_check_base_url_drops_a_trailing_v1_and_says_so(url: str, expected: str) -> None:
    used, note = check_base_url(url)
    assert used == expected
    assert note is not None and "/v1" in note and expected in note


def test_check_base_url_keeps_other_path_prefixes() -> None:
    assert check_base_url("https://proxy.example/runway") == ("https://proxy.example/runway", None)


@pytest.mark.parametrize(
    "url",
    ["garbage", "api.dev.runwayml.com", "ftp://example.com", "https://", "://example.com"],
)
def test_check_base_url_refuses_garbage(url: str) -> None:
    with pytest.raises(UsageError, match="Invalid base URL"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["https://example.com:abc", "http://127.0.0.1:port"])
def test_check_base_url_refuses_bad_port(url: str) -> None:
    with pytest.raises(UsageError, match="port"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["", "   ", "/", "//"])
def test_check_base_url_refuses_empty(url: str) -> None:
    with pytest.raises(UsageError, match="The base URL is empty") as info:
        check_base_url(url)
    assert "api.dev.runwayml.com" in (info.value.hint or "")


def test_check_base_url_refuses_out_of_range_port() -> None:
    with pytest.raises(UsageError, match="Invalid base URL"):
        check_base_url("https://example.com:99999")


# --- check_api_key ------------------------------------------------------------------------


def test_check_api_key_returns_clean_key() -> None:
    assert check_api_key("key_abc123", "--api-key") == "key_abc123"


@pytest.mark.parametrize(
    "key", ["key abc", "key_abc\n", "\tkey_abc", "key\r\nabc", "key\u00a0abc", "key\x00abc"]
)
def test_check_api_key_refuses_whitespace_and_control(key: str) -> None:
    with pytest.raises(CredentialsError, match="whitespace or control characters") as info:
        check_api_key(key, "RUNWAYML_API_SECRET")
    assert "RUNWAYML_API_SECRET" in info.value.message
    # The key itself must never be echoed back.
    assert key not in info.value.message


def test_check_api_key_refuses_empty() -> None:
    with pytest.raises(CredentialsError, match="empty"):
        check_api_key("", "stdin")


# --- check_output_option ------------------------------------------------------------------


@pytest.mark.parametrize(
    "output", [None, "fox.png", "out/{id}.{ext}", "r\u00e9sum\u00e9/\u72d0.png"]
)
def test_check_output_option_accepts_text(output: str | None) -> None:
    check_output_option(output)


def test_check_output_option_refuses_bytes_that_are_not_utf8() -> None:
    # A non-UTF-8 byte in argv arrives as a lone surrogate (surrogateescape).
    with pytest.raises(UsageError, match=r"not valid UTF-8") as info:
        check_output_option("fox\udcff.png")
    assert "\\xff" in info.value.message  # shown escaped, never as a broken character
