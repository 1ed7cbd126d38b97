"""Notification channels: checked configuration, sealed secrets, the API's view of them."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from versioner.common import rows
from versioner.common.errors import Failure, unprocessable
from versioner.common.notifications import ChannelFilters, ChannelPublic, mask
from versioner.notifier.crypto import Sealer
from versioner.notifier.tables import Channel

# Per kind: every config key, and which of them are secrets (write-only, sealed at rest).
_KEYS = {
    "slack": {"bot_token": True, "channel": False, "webhook_url": True},
    "webhook": {"url": False, "secret": True},
}
_MAX_VALUE = 2048


@dataclass(frozen=True)
class ChannelConfig:
    """A channel's whole configuration, secrets opened."""

    values: dict[str, str]

    @property
    def is_bot(self) -> bool:
        """A Slack channel posting with a bot token (threads, updates, action buttons)."""
        return "bot_token" in self.values


def _url_problem(value: str) -> str | None:
    if any(char == " " or not char.isprintable() for char in value):
        return "must not contain spaces or control characters: percent-encode them"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed IPv6 bracket: `http://[`
        return "must be an http or https URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http or https URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    return None


def check(kind: str, config: dict[str, Any]) -> dict[str, str] | Failure:
    """The configuration of a channel of this kind, or the 422 naming what is wrong."""
    known = _KEYS[kind]
    values: dict[str, str] = {}
    for key, value in config.items():
        if key not in known:
            return unprocessable(
                f"config.{key}", f"unknown key for a {kind} channel; expected {', '.join(known)}"
            )
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_VALUE:
            return unprocessable(
                f"config.{key}", f"must be a non-empty string of at most {_MAX_VALUE} characters"
            )
        values[key] = value.strip()
    if kind == "webhook":
        if "url" not in values:
            return unprocessable("config.url", "a webhook channel needs a url")
        if problem := _url_problem(values["url"]):
            return unprocessable("config.url", problem)
        return values
    if "bot_token" in values and "webhook_url" in values:
        return unprocessable("config", "give either bot_token and channel, or webhook_url")
    if "webhook_url" in values:
        if "channel" in values:
            return unprocessable("config.channel", "an incoming webhook posts to its own channel")
        if problem := _url_problem(values["webhook_url"]):
            return unprocessable("config.webhook_url", problem)
        return values
    if "bot_token" not in values:
        return unprocessable(
            "config", "a slack channel needs bot_token and channel, or webhook_url"
        )
    if not values["bot_token"].startswith("xox"):
        return unprocessable("config.bot_token", "must be a Slack token (xoxb-…)")
    if "channel" not in values:
        return unprocessable("config.channel", "a bot token needs the channel to post to")
    return values


def store(channel: Channel, values: dict[str, str], sealer: Sealer) -> None:
    """Keep a checked configuration: what may be shown in the clear, secrets sealed."""
    secret = _KEYS[channel.kind]
    channel.config = {
        key: mask(value) if secret[key] else value for key, value in sorted(values.items())
    }
    channel.sealed = sealer.seal({key: v for key, v in values.items() if secret[key]})


def opened(channel: Channel, sealer: Sealer) -> ChannelConfig:
    """A stored channel's whole configuration (raises `SecretUnreadable`)."""
    secret = _KEYS[channel.kind]
    clear = {key: value for key, value in channel.config.items() if not secret[key]}
    return ChannelConfig({**clear, **(sealer.open(channel.sealed) if channel.sealed else {})})


def merged(channel: Channel, patch: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """A config patch over what is stored: keys left out keep their value, null removes one."""
    return {**opened(channel, sealer).values, **patch}


def public(channel: Channel) -> ChannelPublic:
    """The API's view: secrets masked."""
    filters = ChannelFilters(
        products=list(channel.filter_products), environments=list(channel.filter_environments)
    )
    return rows.public(
        ChannelPublic,
        channel,
        channel_kind=channel.kind,
        config=dict(channel.config),
        events=list(channel.events),
        filters=filters,
    )
