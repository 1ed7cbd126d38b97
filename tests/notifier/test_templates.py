"""Deployment button templates: placeholders, literal braces, encoding, and what is refused."""

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest

from versioner.notifier.templates import (
    JSON_CONTENT_TYPE,
    MAX_BODY_TEMPLATE,
    MAX_URL_TEMPLATE,
    PLACEHOLDERS,
    TEXT_CONTENT_TYPE,
    Rendered,
    Variables,
    canonical_method,
    render,
    render_body,
    render_url,
    template_problem,
)

PRODUCT_ID = UUID("0b6c3f52-3d8e-4a57-9a51-6f1d8e2c7a10")
ENVIRONMENT_ID = UUID("5e2a9d14-8c7b-4f36-b0e1-2a4c6d8f0b13")
VARIABLES = Variables(
    version="1.4.2",
    product_name="api",
    product_id=PRODUCT_ID,
    environment_name="production",
    environment_id=ENVIRONMENT_ID,
    sha="9f8e7d6",
    build_number="118",
)
TRICKY = 'a/b c&d=e#f?g "quoted" back\\slash\nnew line\ttab \x01 é ✓ 😀 \u2028'


def test_the_seven_placeholders() -> None:
    assert PLACEHOLDERS == (
        "vi_version",
        "vi_product_name",
        "vi_product_id",
        "vi_environment_name",
        "vi_environment_id",
        "vi_sha",
        "vi_build_number",
    )
    assert set(VARIABLES.values()) == set(PLACEHOLDERS)


def test_values_are_text() -> None:
    assert VARIABLES.values() == {
        "vi_version": "1.4.2",
        "vi_product_name": "api",
        "vi_product_id": "0b6c3f52-3d8e-4a57-9a51-6f1d8e2c7a10",
        "vi_environment_name": "production",
        "vi_environment_id": "5e2a9d14-8c7b-4f36-b0e1-2a4c6d8f0b13",
        "vi_sha": "9f8e7d6",
        "vi_build_number": "118",
    }


def test_missing_values_render_empty() -> None:
    missing = replace(VARIABLES, environment_id=None, sha=None, build_number=None)
    assert missing.values()["vi_environment_id"] == ""
    assert missing.values()["vi_sha"] == ""
    assert missing.values()["vi_build_number"] == ""
    url = "https://ci.example.com/x?sha={vi_sha}&build={vi_build_number}&env={vi_environment_id}"
    assert render_url(url, missing) == "https://ci.example.com/x?sha=&build=&env="
    body = '{"sha": "{vi_sha}", "build": "{vi_build_number}"}'
    assert json.loads(render_body(body, missing)) == {"sha": "", "build": ""}


def test_every_placeholder_renders_in_a_url() -> None:
    template = "https://ci.example.com/deploy?" + "&".join(
        f"{name}={{{name}}}" for name in PLACEHOLDERS
    )
    rendered = render_url(template, VARIABLES)
    assert rendered == (
        "https://ci.example.com/deploy?vi_version=1.4.2&vi_product_name=api"
        "&vi_product_id=0b6c3f52-3d8e-4a57-9a51-6f1d8e2c7a10"
        "&vi_environment_name=production"
        "&vi_environment_id=5e2a9d14-8c7b-4f36-b0e1-2a4c6d8f0b13"
        "&vi_sha=9f8e7d6&vi_build_number=118"
    )


def test_every_placeholder_renders_in_a_body() -> None:
    template = "{" + ", ".join(f'"{name}": "{{{name}}}"' for name in PLACEHOLDERS) + "}"
    assert template_problem("https://ci.example.com/deploy", template, "POST") is None
    assert json.loads(render_body(template, VARIABLES)) == VARIABLES.values()


def test_placeholders_render_in_path_query_and_fragment() -> None:
    template = "https://ci.example.com/{vi_product_name}/{vi_version}?v={vi_version}#{vi_sha}"
    assert render_url(template, VARIABLES) == "https://ci.example.com/api/1.4.2?v=1.4.2#9f8e7d6"


def test_other_braces_are_literal_in_a_url() -> None:
    template = "https://ci.example.com/{foo}/{{vi_version}}?a={&b=}&c={{&d={VI_VERSION}&e={vi_sha"
    assert template_problem(template, None, "GET") is None
    assert render_url(template, VARIABLES) == (
        "https://ci.example.com/{foo}/{1.4.2}?a={&b=}&c={{&d={VI_VERSION}&e={vi_sha"
    )


def test_other_braces_are_literal_in_a_body() -> None:
    template = '{"a": "{foo}", "b": "{{", "c": "{", "d": "}", "e": {"f": ["{vi_version}"]}}'
    assert template_problem("https://ci.example.com/hook", template, "POST") is None
    assert json.loads(render_body(template, VARIABLES)) == {
        "a": "{foo}",
        "b": "{{",
        "c": "{",
        "d": "}",
        "e": {"f": ["1.4.2"]},
    }


def test_url_values_are_percent_encoded() -> None:
    rendered = render_url(
        "https://ci.example.com/p/{vi_version}?v={vi_version}&env={vi_environment_name}",
        replace(VARIABLES, version="a/b c&d=e#f?g", environment_name="prod-é ✓"),
    )
    assert rendered == (
        "https://ci.example.com/p/a%2Fb%20c%26d%3De%23f%3Fg"
        "?v=a%2Fb%20c%26d%3De%23f%3Fg&env=prod-%C3%A9%20%E2%9C%93"
    )
    parts = urlsplit(rendered)
    assert parts.fragment == ""
    assert parse_qs(parts.query) == {"v": ["a/b c&d=e#f?g"], "env": ["prod-é ✓"]}


def test_a_tricky_url_value_round_trips() -> None:
    rendered = render_url(
        "https://ci.example.com/x?v={vi_version}", replace(VARIABLES, version=TRICKY)
    )
    assert rendered.isascii()
    assert parse_qs(urlsplit(rendered).query) == {"v": [TRICKY]}


def test_json_body_values_are_escaped_and_round_trip() -> None:
    template = '{\n  "version": "{vi_version}",\n  "note": "built {vi_sha} for {vi_version}"\n}'
    body = render_body(template, replace(VARIABLES, version=TRICKY, sha='"x"'))
    assert json.loads(body.decode("utf-8")) == {
        "version": TRICKY,
        "note": f'built "x" for {TRICKY}',
    }
    # Not \u-escaped: sent as UTF-8.
    assert "é ✓ 😀".encode() in body


def test_a_plain_text_body_gets_json_escaped_values() -> None:
    rendered = render_body("deploy {vi_version} now", replace(VARIABLES, version='1"2'))
    assert rendered == b'deploy 1\\"2 now'


def test_no_body_template_renders_no_body() -> None:
    assert render_body(None, VARIABLES) == b""


def test_render_a_json_request() -> None:
    rendered = render(
        "post",
        "https://ci.example.com/hook/{vi_product_name}",
        '  {"version": "{vi_version}"}',
        VARIABLES,
    )
    assert rendered == Rendered(
        method="POST",
        url="https://ci.example.com/hook/api",
        body=b'  {"version": "1.4.2"}',
        content_type=JSON_CONTENT_TYPE,
    )


def test_render_a_json_array_body() -> None:
    rendered = render("PUT", "https://ci.example.com/hook", '["{vi_version}"]', VARIABLES)
    assert rendered.content_type == JSON_CONTENT_TYPE
    assert json.loads(rendered.body) == ["1.4.2"]


def test_render_a_plain_text_request() -> None:
    rendered = render("PATCH", "https://ci.example.com/hook", "version={vi_version}", VARIABLES)
    assert rendered.method == "PATCH"
    assert rendered.body == b"version=1.4.2"
    assert rendered.content_type == TEXT_CONTENT_TYPE


def test_how_a_body_is_sent_does_not_depend_on_the_values() -> None:
    rendered = render(
        "POST", "https://ci.example.com/hook", "{vi_version}", replace(VARIABLES, version="{}")
    )
    assert rendered.content_type == TEXT_CONTENT_TYPE
    assert rendered.body == b"{}"


def test_render_without_a_body() -> None:
    for body in (None, ""):
        rendered = render("get", "https://ci.example.com/x?v={vi_version}", body, VARIABLES)
        assert rendered == Rendered(
            method="GET", url="https://ci.example.com/x?v=1.4.2", body=b"", content_type=None
        )


def test_render_leaves_unknown_vi_placeholders_literal() -> None:
    assert render_url("https://h.example.com/{vi_foo}/{vi_version}", VARIABLES) == (
        "https://h.example.com/{vi_foo}/1.4.2"
    )
    assert render_body('"{vi_foo}"', VARIABLES) == b'"{vi_foo}"'


def test_render_never_fills_in_the_authority() -> None:
    rendered = render_url("https://{vi_environment_name}.example.com/{vi_version}", VARIABLES)
    assert rendered == "https://{vi_environment_name}.example.com/1.4.2"


def test_canonical_method() -> None:
    assert [canonical_method(m) for m in ("get", "Post", "PUT", "patch")] == [
        "GET",
        "POST",
        "PUT",
        "PATCH",
    ]
    for refused in ("DELETE", "HEAD", "", " post", "poſt"):
        with pytest.raises(ValueError):
            canonical_method(refused)


@pytest.mark.parametrize(
    ("url", "rendered"),
    [
        pytest.param(
            "https://ci.example.com/job/deploy/buildWithParameters"
            "?VERSION={vi_version}&ENV={vi_environment_name}",
            "https://ci.example.com/job/deploy/buildWithParameters?VERSION=1.4.2&ENV=production",
            id="jenkins",
        ),
        pytest.param(
            "https://gitlab.example.com/group/app/-/pipelines/new?var[VERSION]={vi_version}",
            "https://gitlab.example.com/group/app/-/pipelines/new?var[VERSION]=1.4.2",
            id="gitlab",
        ),
        pytest.param(
            "https://rundeck.example.com/project/ops/job/show/"
            "4c1f0a2e-77b3-4d5e-9f60-1a2b3c4d5e6f?opt.version={vi_version}",
            "https://rundeck.example.com/project/ops/job/show/"
            "4c1f0a2e-77b3-4d5e-9f60-1a2b3c4d5e6f?opt.version=1.4.2",
            id="rundeck",
        ),
        pytest.param(
            "https://github.com/acme/app/actions/workflows/deploy.yml",
            "https://github.com/acme/app/actions/workflows/deploy.yml",
            id="github-actions",
        ),
    ],
)
def test_ci_tool_shapes(url: str, rendered: str) -> None:
    assert template_problem(url, None, "GET") is None
    assert render_url(url, VARIABLES) == rendered


def test_a_prerelease_version_is_encoded_in_a_jenkins_url() -> None:
    url = "https://ci.example.com/job/deploy/buildWithParameters?VERSION={vi_version}"
    rendered = render_url(url, replace(VARIABLES, version="2.0.0-rc.1+build/7"))
    assert rendered.endswith("?VERSION=2.0.0-rc.1%2Bbuild%2F7")


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example.com",
        "http://ci.example.com:8080/x",
        "HTTPS://CI.example.com/x",
        "https://[2001:db8::1]:8443/x?v={vi_version}",
        "https://bücher.example/x",
        "https://ci.example.com/x?q={vi_version}#frag-{vi_sha}",
        "https://ci.example.com/é/x",
    ],
)
def test_url_templates_accepted(url: str) -> None:
    assert template_problem(url, None, "GET") is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("{vi_version}://ci.example.com/", "scheme, host", id="placeholder-scheme"),
        pytest.param("http{vi_sha}://ci.example.com/", "scheme, host", id="placeholder-in-scheme"),
        pytest.param("https://{vi_environment_name}.example.com/", "host", id="placeholder-host"),
        pytest.param("https://ci.example.com{vi_version}/", "host", id="placeholder-host-end"),
        pytest.param("https://ci.example.com:{vi_build_number}/", "port", id="placeholder-port"),
        pytest.param("https://{vi_sha}@ci.example.com/", "user info", id="placeholder-userinfo"),
        pytest.param("https://u:{vi_sha}@ci.example.com/", "user info", id="placeholder-password"),
        pytest.param("https://{foo}.example.com/", "braces", id="literal-braces-host"),
        pytest.param("https://ci.example.com}/", "braces", id="lone-brace-host"),
        pytest.param("https://user:pw@ci.example.com/", "user name", id="userinfo"),
        pytest.param("https://@ci.example.com/", "user name", id="empty-userinfo"),
        pytest.param("ftp://ci.example.com/x", "http or https", id="ftp"),
        pytest.param("javascript:alert(1)", "http or https", id="javascript"),
        pytest.param("/relative/{vi_version}", "http or https", id="relative"),
        pytest.param("//ci.example.com/x", "http or https", id="scheme-relative"),
        pytest.param("https:ci.example.com/x", "http or https", id="no-slashes"),
        pytest.param("https:///x", "host", id="no-host"),
        pytest.param("https://:8080/x", "host", id="port-without-host"),
        pytest.param("https://ci.example.com:99999/", "port", id="port-range"),
        pytest.param("https://ci.example.com:0/", "port", id="port-zero"),
        pytest.param("https://ci.example.com:http/", "valid URL", id="port-text"),
        pytest.param("https://ci.exa%6Dple.com/", "host name", id="encoded-host"),
        pytest.param("https://evil.example\\.ci.example.com/", "backslash", id="backslash"),
        pytest.param("https://ci.example.com/a b", "spaces", id="space"),
        pytest.param("https://ci.example.com/a\nb", "control", id="newline"),
        pytest.param("https://ci.example.com/a\u00a0b", "control", id="nbsp"),
        pytest.param("", "http or https", id="empty"),
    ],
)
def test_url_templates_refused(url: str, message: str) -> None:
    problem = template_problem(url, None, "GET")
    assert problem is not None
    field, text = problem
    assert field == "url_template"
    assert message in text


def test_too_long_a_url_is_refused() -> None:
    prefix = "https://ci.example.com/"
    fits = prefix + "x" * (MAX_URL_TEMPLATE - len(prefix))
    assert template_problem(fits, None, "GET") is None
    assert template_problem(fits + "x", None, "GET") == (
        "url_template",
        f"must be at most {MAX_URL_TEMPLATE} characters long",
    )


def test_unknown_vi_placeholders_are_refused_by_name() -> None:
    problem = template_problem("https://ci.example.com/{vi_unknown}", None, "GET")
    assert problem is not None
    assert problem[0] == "url_template"
    assert problem[1].startswith("unknown placeholder {vi_unknown}: the vi_ prefix is reserved")
    assert "{vi_build_number}" in problem[1]

    problem = template_problem(
        "https://ci.example.com/x", '{"a": "{vi_foo}", "b": "{vi_bar2}", "c": "{vi_foo}"}', "POST"
    )
    assert problem is not None
    assert problem[0] == "body_template"
    assert problem[1].startswith("unknown placeholders {vi_foo}, {vi_bar2}:")


def test_other_unknown_names_are_literal_not_refused() -> None:
    template = "https://ci.example.com/{foo}/{version}/{VI_VERSION}/{vi-version}/{vi_}"
    assert template_problem(template, None, "GET") is None


@pytest.mark.parametrize("method", ["DELETE", "HEAD", "OPTIONS", "", "poſt"])
def test_other_methods_are_refused(method: str) -> None:
    problem = template_problem("https://ci.example.com/", None, method)
    assert problem == ("method", "must be one of GET, POST, PUT, PATCH")


def test_methods_are_case_insensitive() -> None:
    for method in ("get", "post", "Put", "pAtCh"):
        assert template_problem("https://ci.example.com/", None, method) is None


def test_a_get_with_a_body_is_refused() -> None:
    problem = template_problem("https://ci.example.com/", '{"v": "{vi_version}"}', "get")
    assert problem == ("body_template", "a GET request has no body: use POST, PUT or PATCH")


def test_an_empty_body_is_no_body() -> None:
    assert template_problem("https://ci.example.com/", "", "GET") is None


@pytest.mark.parametrize("method", ["POST", "put", "PATCH"])
def test_methods_with_a_body(method: str) -> None:
    body = '{"version": "{vi_version}", "sha": "{vi_sha}"}'
    assert template_problem("https://ci.example.com/", body, method) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param('{"version": {vi_version}}', "line 1", id="placeholder-outside-a-string"),
        pytest.param('{"build": 1{vi_build_number}}', "line 1", id="placeholder-after-a-number"),
        pytest.param('{"version": "{vi_version}",}', "line 1", id="trailing-comma"),
        pytest.param('{\n  "a": 1\n  "b": 2\n}', "line 3", id="missing-comma"),
        pytest.param("[1, 2", "line 1", id="unclosed"),
        pytest.param("{foo}", "line 1", id="literal-braces"),
        pytest.param('{"a": NaN}', "NaN is not JSON", id="nan"),
        pytest.param("[" * 60_000, "nested too deeply", id="too-deep"),
    ],
)
def test_invalid_json_bodies_are_refused(body: str, reason: str) -> None:
    problem = template_problem("https://ci.example.com/", body, "POST")
    assert problem is not None
    field, message = problem
    assert field == "body_template"
    assert message.startswith("starts with { or [ and is sent as JSON, but is not valid JSON")
    assert reason in message
    assert '"{vi_version}"' in message


def test_plain_text_bodies_are_not_checked_as_json() -> None:
    for body in ("version={vi_version}", "{vi_version} and {more}", "\u00a0{not json"):
        assert template_problem("https://ci.example.com/", body, "POST") is None


def test_too_large_a_body_is_refused() -> None:
    fits = '"' + "é" * ((MAX_BODY_TEMPLATE - 2) // 2) + '"'
    assert len(fits.encode()) == MAX_BODY_TEMPLATE
    assert template_problem("https://ci.example.com/", fits, "POST") is None
    problem = template_problem("https://ci.example.com/", fits + " ", "POST")
    assert problem == ("body_template", "must be at most 64 KiB of UTF-8")


def test_a_body_that_is_not_unicode_is_refused() -> None:
    problem = template_problem("https://ci.example.com/", '"\ud800"', "POST")
    assert problem == ("body_template", "must be valid Unicode text")


def test_the_url_is_checked_before_the_method_and_body() -> None:
    problem = template_problem("ftp://ci.example.com/", "{", "DELETE")
    assert problem is not None
    assert problem[0] == "url_template"
