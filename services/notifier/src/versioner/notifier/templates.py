"""Deployment buttons' requests, rendered from their templates.

A template names Versioner's values with seven placeholders, `{vi_version}` and the like
(`PLACEHOLDERS`). Every other brace is literal text: `{foo}`, `{{`, a lone `{` and the braces of
a JSON body are sent as written. There is no escape, so `{{vi_version}}` renders as `{1.2.3}`.

Placeholders may stand in a URL's path, query and fragment, where values are percent-encoded
(`/`, `&`, `#` and all), but never in its scheme or authority: the host a button calls is fixed
when the button is saved, whatever a version is called. In a body, values are JSON-escaped
without quotes, so a placeholder belongs inside a JSON string literal:
`{"version": "{vi_version}"}`.

`template_problem` validates templates when a button is created or updated; `render` builds the
request to preview or send.
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import get_args
from urllib.parse import quote
from uuid import UUID

import httpx

from versioner.common.notifications import HttpMethod

METHODS: tuple[HttpMethod, ...] = get_args(HttpMethod)
_BY_NAME: dict[str, HttpMethod] = {method: method for method in METHODS}
BODY_METHODS: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})
MAX_URL_TEMPLATE = 2048  # characters: what browsers and proxies reliably accept
MAX_BODY_TEMPLATE = 64 * 1024  # bytes of UTF-8
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

# Variable names are [a-z0-9_] and the `vi_` prefix is Versioner's: any such name in braces is a
# placeholder, known or not, and an unknown one is refused rather than sent as literal text.
_PLACEHOLDER = re.compile(r"\{(vi_[a-z0-9_]+)\}")
# RFC 3986's scheme and authority: the part of a URL that no value may change.
_ORIGIN = re.compile(r"(?:[^:/?#]+:)?(?://[^/?#]*)?")
# Dot-separated labels of letters, digits, `-` and `_`; httpx turns an IDN into xn-- labels.
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_JSON_SPACE = " \t\r\n"


@dataclass(frozen=True)
class Variables:
    """The values a deployment button's templates may use: one field per placeholder."""

    version: str
    product_name: str
    product_id: UUID
    environment_name: str
    environment_id: UUID | None
    sha: str | None
    build_number: str | None

    def values(self) -> dict[str, str]:
        """Each placeholder's name and text; a missing value (None) renders as the empty string."""
        return {f"vi_{field.name}": _text(getattr(self, field.name)) for field in fields(self)}


# Derived from the fields, so that the names and the values cannot drift apart.
PLACEHOLDERS: tuple[str, ...] = tuple(f"vi_{field.name}" for field in fields(Variables))

# Rendered in place of every value to check a JSON body: a quote comes out as `\"`, which is
# valid inside a string literal and nowhere else, so a placeholder outside one is caught.
_SAMPLE_VALUES: Mapping[str, str] = dict.fromkeys(PLACEHOLDERS, 'sample "value" \\ é\n')
_EMPTY_VALUES: Mapping[str, str] = dict.fromkeys(PLACEHOLDERS, "")


@dataclass(frozen=True)
class Rendered:
    """A deployment button's request, ready to preview or send."""

    method: HttpMethod
    url: str
    body: bytes
    content_type: str | None


def canonical_method(method: str) -> HttpMethod:
    """The method in upper case; `ValueError` unless it is one of `METHODS`."""
    # str.upper maps a few non-ASCII letters onto ASCII ones: "poſt".upper() == "POST".
    if method.isascii() and (known := _BY_NAME.get(method.upper())):
        return known
    raise ValueError(f"method must be one of {', '.join(METHODS)}")


def template_problem(
    url_template: str, body_template: str | None, method: str
) -> tuple[str, str] | None:
    """Why a button's templates cannot be saved, as (field, message); None when they can.

    An empty body template counts as no body.
    """
    problem = _url_problem(url_template) or _unknown_placeholders(url_template)
    if problem is not None:
        return "url_template", problem
    try:
        canonical = canonical_method(method)
    except ValueError:
        return "method", f"must be one of {', '.join(METHODS)}"
    if not body_template:
        return None
    if canonical not in BODY_METHODS:
        return "body_template", f"a {canonical} request has no body: use POST, PUT or PATCH"
    problem = _body_problem(body_template) or _unknown_placeholders(body_template)
    if problem is None and _looks_like_json(body_template):
        problem = _json_problem(body_template)
    return None if problem is None else ("body_template", problem)


def render_url(url_template: str, variables: Variables) -> str:
    """The URL with the placeholders of its path, query and fragment filled in, percent-encoded.

    The scheme and authority are kept as written, placeholders or not; validation refuses them.
    """
    end = _origin_end(url_template)
    return url_template[:end] + _substitute(url_template[end:], variables.values(), _percent_encode)


def render_body(body_template: str | None, variables: Variables) -> bytes:
    """The body with its placeholders filled in, JSON-escaped without quotes, as UTF-8."""
    if body_template is None:
        return b""
    text = _substitute(body_template, variables.values(), _json_escape)
    # A lone surrogate cannot be UTF-8; it becomes "?" rather than failing the request.
    return text.encode("utf-8", errors="replace")


def render(
    method: str, url_template: str, body_template: str | None, variables: Variables
) -> Rendered:
    """The request a button sends for these values; `ValueError` for a method not in `METHODS`.

    A body is sent as JSON when it starts with `{` or `[` (its placeholders left empty), as
    plain text otherwise; an empty body template means no body and no content type.
    """
    content_type = None
    if body_template:
        content_type = JSON_CONTENT_TYPE if _looks_like_json(body_template) else TEXT_CONTENT_TYPE
    return Rendered(
        method=canonical_method(method),
        url=render_url(url_template, variables),
        body=render_body(body_template, variables),
        content_type=content_type,
    )


def _url_problem(url_template: str) -> str | None:
    """What makes a URL template unusable, placeholders apart."""
    if len(url_template) > MAX_URL_TEMPLATE:
        return f"must be at most {MAX_URL_TEMPLATE} characters long"
    if any(char == " " or not char.isprintable() for char in url_template):
        return "must not contain spaces or control characters: percent-encode them"
    origin = url_template[: _origin_end(url_template)]
    if "{" in origin or "}" in origin:
        return (
            "placeholders and braces are not allowed in the scheme, host, port or user info: "
            "the host a button calls is fixed when it is saved"
        )
    # Browsers read a backslash as a slash, and would call another host than the one checked.
    if "\\" in origin:
        return "must not contain a backslash before the path"
    if "@" in origin:
        return "must not contain a user name or password (user:pass@)"
    try:
        url = httpx.URL(url_template)
    except httpx.InvalidURL as exc:
        return f"is not a valid URL: {exc}"
    if url.scheme not in ("http", "https") or "//" not in origin:
        return "must be an absolute http or https URL"
    host = url.raw_host.decode("ascii")
    if not host:
        return "must have a host"
    if ":" not in host and not _HOST_NAME.fullmatch(host):
        return "must have a valid host name"
    if url.port is not None and not 0 < url.port < 65536:
        return f"{url.port} is not a TCP port"
    return None


def _body_problem(body_template: str) -> str | None:
    """What makes a body template unusable, placeholders and JSON apart."""
    try:
        size = len(body_template.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    if size > MAX_BODY_TEMPLATE:
        return f"must be at most {MAX_BODY_TEMPLATE // 1024} KiB of UTF-8"
    return None


def _unknown_placeholders(template: str) -> str | None:
    """A refusal naming the `vi_` placeholders that are not Versioner's, if any."""
    names = dict.fromkeys(_PLACEHOLDER.findall(template))
    unknown = [name for name in names if name not in PLACEHOLDERS]
    if not unknown:
        return None
    plural = "s" if len(unknown) > 1 else ""
    return (
        f"unknown placeholder{plural} {_braced(unknown)}: the vi_ prefix is reserved for "
        f"Versioner's own, {_braced(PLACEHOLDERS)}"
    )


def _json_problem(body_template: str) -> str | None:
    """Why a body meant as JSON would not be JSON once filled in, if it would not."""
    sample = _substitute(body_template, _SAMPLE_VALUES, _json_escape)
    try:
        json.loads(sample, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        # Lines are the template's own: escaped values hold no line break.
        reason = f"{exc.msg} on line {exc.lineno}"
    except ValueError as exc:
        reason = str(exc)
    except RecursionError:
        reason = "nested too deeply"
    else:
        return None
    return (
        f"starts with {{ or [ and is sent as JSON, but is not valid JSON once its placeholders "
        f'are filled in ({reason}); a placeholder belongs inside a string, as in "{{vi_version}}"'
    )


def _refuse_constant(name: str) -> object:
    """Python's JSON reads NaN and Infinity; JSON itself has neither."""
    raise ValueError(f"{name} is not JSON")


def _looks_like_json(body_template: str) -> bool:
    """Whether a body is sent as JSON: it starts with `{` or `[`, its placeholders left empty.

    Decided on the template alone, so that a value cannot change how a body is sent.
    """
    bare = _substitute(body_template, _EMPTY_VALUES, _json_escape)
    return bare.lstrip(_JSON_SPACE)[:1] in ("{", "[")


def _substitute(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """Fill in the placeholders that have a value; anything else stays as written."""

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else escape(value)

    return _PLACEHOLDER.sub(replace, template)


def _origin_end(url: str) -> int:
    """Where a URL's scheme and authority end, and its path begins."""
    match = _ORIGIN.match(url)
    return match.end() if match else 0


def _percent_encode(value: str) -> str:
    """A value fit for any part of a URL: everything but letters, digits and `-._~` encoded."""
    return quote(value, safe="", errors="replace")


def _json_escape(value: str) -> str:
    """A value fit for the inside of a JSON string literal."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _braced(names: Iterable[str]) -> str:
    """Placeholder names as written in a template, comma-separated."""
    return ", ".join(f"{{{name}}}" for name in names)


def _text(value: object) -> str:
    """A value's text in a template: the empty string for a missing one."""
    return "" if value is None else str(value)
