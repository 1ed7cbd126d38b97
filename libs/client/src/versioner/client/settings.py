"""Where the CLI's settings come from: flags, then environment and config file, then defaults."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import yaml

from versioner.client.client import VersionerClient

# ingest listens on 127.0.0.1:8000 by default (VERSIONER_HTTP_HOST/PORT), so a fresh
# single-machine install works with no configuration at all.
DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_RETRY_DELAYS = "1,2,4"

_TRUE = frozenset({"1", "t", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "f", "false", "no", "n", "off"})


class UsageError(Exception):
    """Bad arguments or configuration; the CLI exits 1."""


def parse_bool(text: str, what: str) -> bool:
    """Read true/false/1/0 (any case), as Go's strconv.ParseBool and a bit more."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"{what} must be true or false, not {text!r}")


def parse_delays(text: str) -> tuple[float, ...]:
    """Read `VERSIONER_RETRY_DELAYS`: comma-separated seconds; empty means no retry."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"VERSIONER_RETRY_DELAYS must be comma-separated seconds: {text!r}"
        ) from None
    if any(d < 0 for d in delays):
        raise UsageError("VERSIONER_RETRY_DELAYS cannot be negative")
    return delays


def _read_yaml(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return {str(k): str(v) for k, v in data.items() if v is not None}


def load_config(explicit: str | None, home: Path, cwd: Path) -> tuple[Path | None, dict[str, str]]:
    """Read `--config`, else the first of ~/.versioner/config.yaml and ./config.yaml."""
    if explicit:
        path = Path(explicit).expanduser()
        try:
            return path, _read_yaml(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise UsageError(f"cannot read config file {path}: {exc}") from None
    for path in (home / ".versioner" / "config.yaml", cwd / "config.yaml"):
        if path.is_file():
            try:
                return path, _read_yaml(path)
            except (OSError, ValueError, yaml.YAMLError):
                # ./config.yaml often belongs to the project being built, not to us.
                continue
    return None, {}


@dataclass(frozen=True)
class Settings:
    """Resolved global settings, plus the env and config values for per-command lookups."""

    api_url: str
    api_key: str | None
    ui_url: str
    fail_on_api_error: bool
    retry_delays: tuple[float, ...]
    verbose: bool = False
    debug: bool = False
    config_path: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, key: str) -> str:
        """`VERSIONER_<KEY>` from the environment, else `key` from the config file, else ""."""
        return self.env.get(f"VERSIONER_{key.upper()}") or self.config.get(key, "")


def resolve(
    flags: Mapping[str, object],
    env: Mapping[str, str],
    home: Path,
    cwd: Path,
) -> Settings:
    """Combine flags (highest), environment, config file and defaults."""
    config_path, config = load_config(_flag(flags, "config"), home, cwd)
    probe = Settings("", None, "", fail_on_api_error=True, retry_delays=(), env=env, config=config)
    api_url = (_flag(flags, "api_url") or probe.lookup("api_url") or DEFAULT_API_URL).rstrip("/")
    if not api_url.startswith(("http://", "https://")):
        raise UsageError(f"API URL must start with http:// or https://: {api_url}")
    fail_flag = _flag(flags, "fail_on_api_error")
    fail_text = fail_flag or probe.lookup("fail_on_api_error") or "true"
    return Settings(
        api_url=api_url,
        api_key=_flag(flags, "api_key") or probe.lookup("api_key") or None,
        ui_url=(_flag(flags, "ui_url") or probe.lookup("ui_url") or api_url).rstrip("/"),
        fail_on_api_error=parse_bool(fail_text, "--fail-on-api-error"),
        retry_delays=parse_delays(env.get("VERSIONER_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)),
        verbose=bool(flags.get("verbose")),
        debug=bool(flags.get("debug")),
        config_path=config_path,
        env=env,
        config=config,
    )


def _flag(flags: Mapping[str, object], name: str) -> str | None:
    value = flags.get(name)
    return value if isinstance(value, str) and value else None


class ExitCode(IntEnum):
    """The CLI's exit codes (API.md, "Command line")."""

    OK = 0
    ERROR = 1
    BUILD_FAILED = 2
    API_ERROR = 4
    BLOCKED = 5


def client_for(settings: Settings) -> VersionerClient:
    """An HTTP client configured from the settings (debug dumps go to stderr)."""

    def debug(line: str) -> None:
        sys.stderr.write(f"[debug] {line}\n")

    return VersionerClient(
        settings.api_url,
        settings.api_key,
        retry_delays=settings.retry_delays,
        debug=debug if settings.debug else None,
    )
