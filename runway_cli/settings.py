"""Settings, read once: command-line flags, then the environment, then defaults.

``Settings.resolve`` is the only place that reads ``RUNWAY_IMG_*`` and ``RUNWAYML_*``
variables; everything below receives values (paths, the poll schedule, the retry policy,
timeouts), never the environment. A bad value is a ``UsageError`` here, before anything is
sent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from runway_cli.api.retry import RetryPolicy
from runway_cli.errors import UsageError
from runway_cli.polling import PollSchedule
from runway_cli.profiles import DEFAULT_PROFILE, ConfigFile, Profile, check_name
from runway_cli.wire import DEFAULT_BASE_URL

APP_NAME = "runway-img"
KEY_ENV = "RUNWAYML_API_SECRET"
BASE_URL_ENV = "RUNWAYML_BASE_URL"
CONFIG_DIR_ENV = "RUNWAY_IMG_CONFIG_DIR"
HISTORY_ENV = "RUNWAY_IMG_HISTORY"
SANDBOX_ENV = "RUNWAY_IMG_SANDBOX"
SANDBOX_SECONDS_ENV = "RUNWAY_IMG_SANDBOX_TASK_SECONDS"
POLL_INTERVAL_ENV = "RUNWAY_IMG_POLL_INTERVAL"
RETRY_BACKOFF_ENV = "RUNWAY_IMG_RETRY_BACKOFF"
HTTP_TIMEOUT_ENV = "RUNWAY_IMG_HTTP_TIMEOUT"
PROFILE_ENV = "RUNWAY_IMG_PROFILE"
CA_BUNDLE_ENVS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_SANDBOX_SECONDS = 2.0


@dataclass(frozen=True)
class Paths:
    """Where runway-img keeps its files."""

    config_dir: Path
    cache_dir: Path
    data_dir: Path
    history: Path

    @property
    def credentials(self) -> Path:
        return self.config_dir / "credentials.json"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.json"

    @property
    def sandbox_state(self) -> Path:
        return self.cache_dir / "sandbox.sqlite3"

    @classmethod
    def resolve(cls, environ: Mapping[str, str]) -> Paths:
        config = environ.get(CONFIG_DIR_ENV) or platformdirs.user_config_dir(
            APP_NAME, appauthor=False
        )
        data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        history = environ.get(HISTORY_ENV)
        return cls(
            config_dir=Path(config).expanduser(),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            data_dir=data,
            history=Path(history).expanduser() if history else data / "history.jsonl",
        )


@dataclass(frozen=True)
class ProfileChoice:
    """Which profile is in use and why; the profile named by --profile or RUNWAY_IMG_PROFILE
    and the current one (``auth use``) each have their place in the key precedence."""

    active: str
    source: str  # "--profile", "RUNWAY_IMG_PROFILE", "auth use" or "default"
    flag: str | None = None
    env: str | None = None
    current: str = DEFAULT_PROFILE


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where and how to talk to Runway."""

    paths: Paths
    base_url: str
    api_key_flag: str | None = None
    api_key_env: str | None = None
    sandbox: bool = False
    sandbox_task_seconds: float = DEFAULT_SANDBOX_SECONDS
    poll: PollSchedule = field(default_factory=PollSchedule)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    base_url_flag: str | None = None
    base_url_source: str = "default"  # "flag", "env" or "profile": what a hint points at
    profile: ProfileChoice = field(
        default_factory=lambda: ProfileChoice(DEFAULT_PROFILE, "default")
    )
    defaults: Profile = field(default_factory=lambda: Profile(DEFAULT_PROFILE))
    ca_bundle: str | None = None  # REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        sandbox: bool = False,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ
        paths = Paths.resolve(env)
        config = ConfigFile.load(paths.config_file)
        choice = _choose_profile(profile, env.get(PROFILE_ENV) or None, config.current)
        interval = positive_seconds(env, POLL_INTERVAL_ENV)
        backoff = positive_seconds(env, RETRY_BACKOFF_ENV)
        url, url_source = _base_url(base_url, env, config, choice)
        return cls(
            paths=paths,
            base_url=url,
            base_url_source=url_source,
            base_url_flag=base_url,
            api_key_flag=api_key,
            api_key_env=env.get(KEY_ENV) or None,
            sandbox=sandbox or truthy(env.get(SANDBOX_ENV)),
            sandbox_task_seconds=positive_seconds(env, SANDBOX_SECONDS_ENV)
            or DEFAULT_SANDBOX_SECONDS,
            poll=PollSchedule.fixed(interval) if interval else PollSchedule(),
            retry=RetryPolicy(backoff=backoff) if backoff else RetryPolicy(),
            http_timeout=positive_seconds(env, HTTP_TIMEOUT_ENV) or DEFAULT_HTTP_TIMEOUT,
            profile=choice,
            defaults=config.profile(choice.active),
            ca_bundle=next((env[n] for n in CA_BUNDLE_ENVS if env.get(n)), None),
        )


def _choose_profile(flag: str | None, env: str | None, current: str | None) -> ProfileChoice:
    if flag is not None:
        check_name(flag)
    if env is not None:
        check_name(env)
    base = current or DEFAULT_PROFILE
    if flag:
        return ProfileChoice(flag, "--profile", flag, env, base)
    if env:
        return ProfileChoice(env, PROFILE_ENV, flag, env, base)
    return ProfileChoice(base, "auth use" if current else "default", flag, env, base)


def _base_url(
    flag: str | None, env: Mapping[str, str], config: ConfigFile, choice: ProfileChoice
) -> tuple[str, str]:
    """--base-url, then --profile's, then RUNWAYML_BASE_URL, then RUNWAY_IMG_PROFILE's,
    then the current profile's, then the production API (the key's precedence, mirrored);
    with where it came from."""
    candidates = (
        (flag, "flag"),
        (config.profile(choice.flag).get("base-url") if choice.flag else None, "profile"),
        (env.get(BASE_URL_ENV) or None, "env"),
        (config.profile(choice.env).get("base-url") if choice.env else None, "profile"),
        (config.profile(choice.current).get("base-url"), "profile"),
    )
    return next(((c, s) for c, s in candidates if c is not None), (DEFAULT_BASE_URL, "default"))


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def positive_seconds(environ: Mapping[str, str], name: str) -> float | None:
    """A positive, finite number of seconds from the environment; None when unset."""
    raw = environ.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number of seconds, not {raw!r}.")
    return value
