"""The dashboard's settings over HTTP: users and roles, API keys, notification channels (test
sends, the delivery log), deployment buttons (preview, firings) and the audit log; CSRF and
roles on every action, validation naming the field, secrets never shown."""

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.support.databases import sqlite_url
from tests.support.flows import build_body, csrf, sign_in, signed_in
from tests.support.receiver import Receiver, Reply, verify_signature
from tests.support.stack import BOOTSTRAP_TOKEN, NotifierSetup, Stack, memory_stack
from versioner.ingest.ui import paging

WEBHOOK_SECRET = "whsec-" + "s" * 24
BOT_TOKEN = "xoxb-1234-5678-" + "t" * 24
BUTTON_SECRET = "btn-secret-" + "b" * 20


@pytest.fixture
async def notified_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack in memory with the notifier (channels, buttons), on SQLite."""
    setup = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with memory_stack(sqlite_url(tmp_path), notifier=setup) as running:
        yield running


async def page(stack: Stack, url: str) -> str:
    """A page the signed-in user opens, unescaped."""
    response = await stack.http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def text_of(page_html: str) -> str:
    """A page's visible words, tags and whitespace folded away."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


async def api(stack: Stack, method: str, url: str, **kwargs: Any) -> Any:
    """A JSON API call as the bootstrap admin; its body."""
    response = await stack.http.request(method, url, headers=stack.admin, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


async def users_by_name(stack: Stack) -> dict[str, dict[str, Any]]:
    return {u["name"]: u for u in await api(stack, "GET", "/users/")}


# The index and the nav ------------------------------------------------------------------------


# What each role finds in settings (the buttons are listed for every role).
VISIBLE = {
    "admin": {"users", "api-keys", "channels", "buttons", "audit"},
    "developer": {"api-keys", "buttons"},
    "sre": {"channels", "buttons"},
    "security": {"buttons", "audit"},
    "viewer": {"buttons"},
}


@pytest.mark.databases("sqlite")
async def test_the_index_links_the_settings_each_role_may_see(stack: Stack) -> None:
    for role, shown in VISIBLE.items():
        await signed_in(stack, role)
        index = await page(stack, "/ui/settings")
        assert set(re.findall(r'href="/ui/settings/([a-z-]+)"', index)) == shown, role
        home = await page(stack, "/ui/")
        assert 'href="/ui/settings">Settings</a>' in home


# Users and roles ------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_an_admin_invites_a_user_and_sees_the_invite_token_once(stack: Stack) -> None:
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/settings/users"))
    invited = await stack.http.post(
        "/ui/settings/users",
        data={
            "csrf_token": token,
            "name": "dana",
            "email": "dana@example.com",
            "role": "qa",
            "slack_user_id": "U0DANA",
        },
    )
    assert invited.status_code == 201, invited.text
    found = re.search(r'value="([^"]+)" aria-label="Invite token"', invited.text)
    assert found, invited.text
    invite = found.group(1)
    assert invite not in invited.headers.get("set-cookie", "")  # on the page, nowhere else
    dana = (await users_by_name(stack))["dana"]
    assert (dana["role"], dana["email"], dana["slack_user_id"]) == (
        "qa",
        "dana@example.com",
        "U0DANA",
    )
    again = await page(stack, "/ui/settings/users")
    assert invite not in again
    assert "dana@example.com" in again
    redeemed = await stack.http.post("/users/redeem", json={"invite_token": invite})
    assert redeemed.status_code == 200, redeemed.text


@pytest.mark.databases("sqlite")
async def test_an_invite_that_is_not_valid_names_the_field_and_keeps_the_form(
    stack: Stack,
) -> None:
    await signed_in(stack, "admin")
    before = len(await users_by_name(stack))
    token = csrf(await page(stack, "/ui/settings/users"))
    refused = await stack.http.post(
        "/ui/settings/users",
        data={"csrf_token": token, "name": "erin", "email": "not-an-email", "role": "qa"},
    )
    assert refused.status_code == 422
    words = text_of(refused.text)
    assert "Nobody was invited: Email:" in words
    assert 'value="erin"' in refused.text
    assert (
        'name="email" type="email" value="not-an-email" placeholder="optional" aria-invalid="true"'
        in refused.text
    )
    wrong_role = await stack.http.post(
        "/ui/settings/users", data={"csrf_token": token, "name": "erin", "role": "overlord"}
    )
    assert wrong_role.status_code == 422
    assert "Role:" in text_of(wrong_role.text)
    assert len(await users_by_name(stack)) == before


@pytest.mark.databases("sqlite")
async def test_an_admin_changes_a_role_and_deactivates_a_user_at_once(stack: Stack) -> None:
    frank = await stack.user("developer", name="frank")
    await signed_in(stack, "admin")
    users = await page(stack, "/ui/settings/users")
    frank_id = (await users_by_name(stack))["frank"]["id"]
    assert f'action="/ui/settings/users/{frank_id}"' in users
    path = f"/ui/settings/users/{frank_id}"
    token = csrf(users)
    assert (await stack.http.get("/products/", headers=stack.auth(frank))).status_code == 200
    changed = await stack.http.post(
        path,
        data={
            "csrf_token": token,
            "role": "sre",
            "email": "frank@example.com",
            "slack_user_id": "U0FRANK",
            "active": ["0", "1"],
        },
    )
    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == "/ui/settings/users"
    assert "frank saved." in await page(stack, "/ui/settings/users")
    stored = (await users_by_name(stack))["frank"]
    assert (stored["role"], stored["email"], stored["slack_user_id"]) == (
        "sre",
        "frank@example.com",
        "U0FRANK",
    )
    unlinked = await stack.http.post(
        path, data={"csrf_token": token, "role": "sre", "slack_user_id": "", "active": "0"}
    )
    assert unlinked.status_code == 303
    stored = (await users_by_name(stack))["frank"]
    assert (stored["slack_user_id"], stored["active"], stored["email"]) == (
        None,
        False,
        "frank@example.com",
    )
    refused = await stack.http.get("/products/", headers=stack.auth(frank))
    assert refused.status_code == 401  # deactivated: forgotten at once
    invalid = await stack.http.post(
        path, data={"csrf_token": token, "role": "qa", "email": "frank-at-example", "active": "1"}
    )
    assert invalid.status_code == 422
    assert "Email:" in text_of(invalid.text)
    assert (await users_by_name(stack))["frank"]["role"] == "sre"


@pytest.mark.databases("sqlite")
async def test_ones_own_role_is_not_offered_and_refused_if_sent(stack: Stack) -> None:
    own = await signed_in(stack, "admin")
    me = (await stack.http.get("/users/me", headers=stack.auth(own))).json()
    users = await page(stack, "/ui/settings/users")
    row = users[users.index(f'data-user="{me["id"]}"') :].split("</tr>")[0]
    assert '<span class="badge">you</span>' in row
    assert 'name="role"' not in row
    refused = await stack.http.post(
        f"/ui/settings/users/{me['id']}",
        data={"csrf_token": csrf(users), "role": "viewer", "active": "1"},
    )
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.text
    assert (await users_by_name(stack))[me["name"]]["role"] == "admin"


@pytest.mark.databases("sqlite")
async def test_the_last_admin_cannot_be_deactivated(stack: Stack) -> None:
    signed = await sign_in(stack.http, BOOTSTRAP_TOKEN)
    assert signed.status_code == 303
    users = await page(stack, "/ui/settings/users")
    [admin] = [u for u in await api(stack, "GET", "/users/") if u["role"] == "admin"]
    refused = await stack.http.post(
        f"/ui/settings/users/{admin['id']}", data={"csrf_token": csrf(users), "active": "0"}
    )
    assert refused.status_code == 409
    assert "The last admin cannot be demoted or deactivated" in html.unescape(refused.text)
    assert (await users_by_name(stack))[admin["name"]]["active"] is True


@pytest.mark.databases("sqlite")
async def test_user_forms_need_the_csrf_token_and_the_admin_role(stack: Stack) -> None:
    await stack.user("developer", name="gina")
    gina_id = (await users_by_name(stack))["gina"]["id"]
    before = len(await users_by_name(stack))
    await signed_in(stack, "admin")
    for url, form in (
        ("/ui/settings/users", {"name": "hank", "role": "qa"}),
        (f"/ui/settings/users/{gina_id}", {"role": "admin", "active": "1"}),
    ):
        assert (await stack.http.post(url, data=form)).status_code == 403
        forged = await stack.http.post(url, data={**form, "csrf_token": "forged"})
        assert forged.status_code == 403
    await signed_in(stack, "release_manager")
    denied = await stack.http.get("/ui/settings/users")
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("text/html")
    token = csrf(await page(stack, "/ui/settings"))
    for url, form in (
        ("/ui/settings/users", {"name": "hank", "role": "qa"}),
        (f"/ui/settings/users/{gina_id}", {"role": "admin", "active": "1"}),
    ):
        assert (await stack.http.post(url, data={**form, "csrf_token": token})).status_code == 403
    users = await users_by_name(stack)
    assert len(users) == before + 2  # the two signed-in users, nobody else
    assert users["gina"]["role"] == "developer"


@pytest.mark.databases("sqlite")
async def test_unknown_users_are_404_pages(stack: Stack) -> None:
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/settings/users"))
    for user_id in ("not-a-uuid", str(uuid4())):
        response = await stack.http.post(
            f"/ui/settings/users/{user_id}", data={"csrf_token": token, "active": "1"}
        )
        assert response.status_code == 404, user_id
        assert "There is nothing here." in response.text


# API keys -------------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_an_admin_creates_a_key_shown_once_and_revokes_it(stack: Stack) -> None:
    await signed_in(stack, "admin")
    token = csrf(await page(stack, "/ui/settings/api-keys"))
    created = await stack.http.post(
        "/ui/settings/api-keys", data={"csrf_token": token, "name": "github-actions"}
    )
    assert created.status_code == 201, created.text
    key = re.search(r'value="(sk_[^"]+)"', created.text)
    assert key, created.text
    ci = stack.auth(key.group(1))
    assert (await stack.http.get("/products/", headers=ci)).status_code == 200
    listing = await page(stack, "/ui/settings/api-keys")
    assert key.group(1) not in listing
    assert "github-actions" in listing
    [stored] = [k for k in await api(stack, "GET", "/api-keys/") if k["name"] == "github-actions"]
    assert f"{stored['prefix']}…" in listing
    revoke = f"/ui/settings/api-keys/{stored['id']}/revoke"
    assert f'action="{revoke}"' in listing
    assert (await stack.http.post(revoke)).status_code == 403
    assert (await stack.http.get("/products/", headers=ci)).status_code == 200
    revoked = await stack.http.post(revoke, data={"csrf_token": token})
    assert revoked.status_code == 303, revoked.text
    after = await page(stack, "/ui/settings/api-keys")
    assert "API key github-actions revoked." in after
    assert f'action="{revoke}"' not in after
    assert (await stack.http.get("/products/", headers=ci)).status_code == 401


@pytest.mark.databases("sqlite")
async def test_a_key_needs_a_name_and_the_csrf_token(stack: Stack) -> None:
    await signed_in(stack, "admin")
    count = len(await api(stack, "GET", "/api-keys/"))
    token = csrf(await page(stack, "/ui/settings/api-keys"))
    unnamed = await stack.http.post("/ui/settings/api-keys", data={"csrf_token": token, "name": ""})
    assert unnamed.status_code == 422
    assert "No key was created: Name:" in text_of(unnamed.text)
    unsigned = await stack.http.post("/ui/settings/api-keys", data={"name": "sneaky"})
    assert unsigned.status_code == 403
    assert len(await api(stack, "GET", "/api-keys/")) == count


@pytest.mark.databases("sqlite")
async def test_a_developer_lists_keys_without_forms_and_may_not_act(stack: Stack) -> None:
    await stack.api_key("deploy-bot")
    [stored] = await api(stack, "GET", "/api-keys/")
    await signed_in(stack, "developer")
    listing = await page(stack, "/ui/settings/api-keys")
    assert "deploy-bot" in listing
    assert "/revoke" not in listing
    assert 'action="/ui/settings/api-keys"' not in listing
    token = csrf(listing)
    created = await stack.http.post(
        "/ui/settings/api-keys", data={"csrf_token": token, "name": "mine"}
    )
    assert created.status_code == 403
    revoked = await stack.http.post(
        f"/ui/settings/api-keys/{stored['id']}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 403
    [still] = await api(stack, "GET", "/api-keys/")
    assert still["revoked_at"] is None
    await signed_in(stack, "viewer")
    assert (await stack.http.get("/ui/settings/api-keys")).status_code == 403


# Notification channels ------------------------------------------------------------------------


def webhook_channel(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """The new-channel form for a webhook channel to the receiver."""
    return {
        "name": "ops webhook",
        "kind": "webhook",
        "url": receiver.url("/hook"),
        "secret": WEBHOOK_SECRET,
        "events": ["deployment.completed", "deployment.failed"],
        "products": "api, web",
        "environments": "",
        "enabled": "1",
        **fields,
    }


async def channels(stack: Stack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = await api(stack, "GET", "/notification-channels/")
    return listed


async def new_channel(stack: Stack, form: dict[str, Any]) -> Any:
    """Send the new-channel form as its page has it."""
    token = csrf(await page(stack, "/ui/settings/channels"))
    return await stack.http.post("/ui/settings/channels", data={"csrf_token": token, **form})


async def test_an_sre_creates_a_webhook_channel_and_sends_a_test(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await signed_in(notified_stack, "sre")
    created = await new_channel(notified_stack, webhook_channel(receiver))
    assert created.status_code == 303, created.text
    [channel] = await channels(notified_stack)
    assert created.headers["location"] == f"/ui/settings/channels/{channel['id']}"
    assert channel["events"] == ["deployment.completed", "deployment.failed"]
    assert channel["filters"] == {"products": ["api", "web"], "environments": []}
    detail = await page(notified_stack, created.headers["location"])
    assert "Channel ops webhook created." in detail
    listing = await page(notified_stack, "/ui/settings/channels")
    assert f'href="/ui/settings/channels/{channel["id"]}">ops webhook</a>' in listing
    assert WEBHOOK_SECRET not in detail
    assert "••••" + WEBHOOK_SECRET[-4:] in detail
    assert "Nothing sent yet." in detail
    tested = await notified_stack.http.post(
        f"/ui/settings/channels/{channel['id']}/test", data={"csrf_token": csrf(detail)}
    )
    assert tested.status_code == 200, tested.text
    assert "Test sent" in tested.text
    assert "(HTTP 200)" in tested.text
    [request] = receiver.requests_to("/hook")
    assert verify_signature(WEBHOOK_SECRET, request.body, request.headers["X-Versioner-Signature"])
    log = await page(notified_stack, f"/ui/settings/channels/{channel['id']}?status=sent")
    assert "1 delivery sent." in text_of(log)
    failed = await page(notified_stack, f"/ui/settings/channels/{channel['id']}?status=failed")
    assert "No failed deliveries." in failed
    bogus = await notified_stack.http.get(f"/ui/settings/channels/{channel['id']}?status=lost")
    assert bogus.status_code == 422
    assert "Status:" in text_of(bogus.text)


async def test_a_failing_test_says_why(notified_stack: Stack, receiver: Receiver) -> None:
    receiver.script("/down", *[Reply(status=404)] * 5)
    await signed_in(notified_stack, "admin")
    await new_channel(notified_stack, webhook_channel(receiver, url=receiver.url("/down")))
    [channel] = await channels(notified_stack)
    detail = await page(notified_stack, f"/ui/settings/channels/{channel['id']}")
    tested = await notified_stack.http.post(
        f"/ui/settings/channels/{channel['id']}/test", data={"csrf_token": csrf(detail)}
    )
    assert tested.status_code == 200
    assert "Test failed" in tested.text
    assert "(HTTP 404)" in tested.text


async def test_a_channel_is_edited_switched_and_deleted_through_its_forms(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await signed_in(notified_stack, "admin")
    await new_channel(notified_stack, webhook_channel(receiver))
    [channel] = await channels(notified_stack)
    path = f"/ui/settings/channels/{channel['id']}"
    token = csrf(await page(notified_stack, path))
    saved = await notified_stack.http.post(
        path,
        data={
            "csrf_token": token,
            "name": "release webhook",
            "url": receiver.url("/hook2"),
            "secret": "",
            "events": ["dr.approved", "deployment.blocked"],
            "products": "",
            "environments": "production",
        },
    )
    assert saved.status_code == 303, saved.text
    [changed] = await channels(notified_stack)
    assert changed["name"] == "release webhook"
    assert changed["events"] == ["dr.approved", "deployment.preflight_failed"]
    assert changed["filters"] == {"products": [], "environments": ["production"]}
    assert changed["config"] == {
        "url": receiver.url("/hook2"),
        "secret": "••••" + WEBHOOK_SECRET[-4:],
    }
    disabled = await notified_stack.http.post(
        f"{path}/enabled", data={"csrf_token": token, "enabled": "0"}
    )
    assert disabled.status_code == 303
    assert "Channel disabled" in await page(notified_stack, path)
    assert (await channels(notified_stack))[0]["enabled"] is False
    unsigned = await notified_stack.http.post(
        path,
        data={
            "csrf_token": token,
            "name": "release webhook",
            "url": receiver.url("/hook2"),
            "events": ["dr.approved"],
            "remove_secret": "1",
        },
    )
    assert unsigned.status_code == 303
    assert "secret" not in (await channels(notified_stack))[0]["config"]
    assert (await notified_stack.http.post(f"{path}/delete")).status_code == 403
    deleted = await notified_stack.http.post(f"{path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/ui/settings/channels"
    assert await channels(notified_stack) == []
    gone = await notified_stack.http.get(path)
    assert gone.status_code == 404


async def test_a_slack_channel_keeps_its_bot_token_secret_and_switches_to_a_webhook_url(
    notified_stack: Stack,
) -> None:
    await signed_in(notified_stack, "sre")
    created = await new_channel(
        notified_stack,
        {
            "name": "releases",
            "kind": "slack",
            "slack_mode": "bot",
            "bot_token": BOT_TOKEN,
            "channel": "C0RELEASES",
            "webhook_url": "",
            "url": "",
            "events": ["build.failed"],
        },
    )
    assert created.status_code == 303, created.text
    detail = await page(notified_stack, created.headers["location"])
    assert BOT_TOKEN not in detail
    assert "C0RELEASES" in detail
    [channel] = await channels(notified_stack)
    assert channel["config"]["bot_token"] == "••••" + BOT_TOKEN[-4:]
    path = f"/ui/settings/channels/{channel['id']}"
    form = {"csrf_token": csrf(detail), "name": "releases", "events": ["build.failed"]}
    kept = await notified_stack.http.post(
        path, data={**form, "slack_mode": "bot", "channel": "C0OTHER"}
    )
    assert kept.status_code == 303, kept.text
    assert (await channels(notified_stack))[0]["config"] == {
        "bot_token": "••••" + BOT_TOKEN[-4:],
        "channel": "C0OTHER",
    }
    missing = await notified_stack.http.post(path, data={**form, "slack_mode": "webhook_url"})
    assert missing.status_code == 422
    assert "Incoming webhook URL:" in text_of(missing.text)
    hook = "https://hooks.slack.com/services/T0/B0/" + "w" * 24
    switched = await notified_stack.http.post(
        path, data={**form, "slack_mode": "webhook_url", "webhook_url": hook}
    )
    assert switched.status_code == 303, switched.text
    assert (await channels(notified_stack))[0]["config"] == {"webhook_url": "••••" + hook[-4:]}
    assert hook not in await page(notified_stack, path)


# A change to a valid new-channel form, and the start of what the page says about it.
CHANNEL_MISTAKES: list[tuple[dict[str, Any], str]] = [
    ({"events": []}, "Events:"),
    ({"url": "ftp://example.com/hook"}, "URL: must be an http or https URL"),
    ({"name": ""}, "Name:"),
    (
        {"kind": "slack", "slack_mode": "bot", "bot_token": BOT_TOKEN, "channel": ""},
        "Slack channel:",
    ),
    ({"kind": "slack", "slack_mode": "bot", "bot_token": "nope", "channel": "C1"}, "Bot token:"),
]


async def test_a_channel_form_that_is_not_valid_names_the_field(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await signed_in(notified_stack, "admin")
    for change, named in CHANNEL_MISTAKES:
        refused = await new_channel(notified_stack, webhook_channel(receiver, **change))
        assert refused.status_code == 422, refused.text
        words = text_of(refused.text)
        assert "No channel was created:" in words
        assert named in words
        assert WEBHOOK_SECRET not in refused.text
        assert BOT_TOKEN not in refused.text
    assert await channels(notified_stack) == []


async def test_a_taken_channel_name_is_refused_on_the_form(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await signed_in(notified_stack, "admin")
    assert (await new_channel(notified_stack, webhook_channel(receiver))).status_code == 303
    again = await new_channel(notified_stack, webhook_channel(receiver))
    assert again.status_code == 409
    assert "ops webhook" in text_of(again.text)
    assert len(await channels(notified_stack)) == 1


async def test_channels_need_the_csrf_token_and_a_role_that_manages_them(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await signed_in(notified_stack, "admin")
    unsigned = await notified_stack.http.post(
        "/ui/settings/channels", data=webhook_channel(receiver)
    )
    assert unsigned.status_code == 403
    await new_channel(notified_stack, webhook_channel(receiver))
    [channel] = await channels(notified_stack)
    path = f"/ui/settings/channels/{channel['id']}"
    for url in (path, f"{path}/enabled", f"{path}/test", f"{path}/delete"):
        assert (
            await notified_stack.http.post(url, data={"enabled": "0", "name": "x"})
        ).status_code == 403, url
    await signed_in(notified_stack, "release_manager")
    assert "/ui/settings/channels" not in await page(notified_stack, "/ui/settings")
    for url in ("/ui/settings/channels", path):
        assert (await notified_stack.http.get(url)).status_code == 403, url
    token = csrf(await page(notified_stack, "/ui/settings"))
    for url in ("/ui/settings/channels", path, f"{path}/enabled", f"{path}/test", f"{path}/delete"):
        refused = await notified_stack.http.post(
            url, data={"csrf_token": token, **webhook_channel(receiver, name="x"), "enabled": "0"}
        )
        assert refused.status_code == 403, url
    [unchanged] = await channels(notified_stack)
    assert (unchanged["name"], unchanged["enabled"]) == ("ops webhook", True)
    assert receiver.requests == []


async def test_unknown_channels_are_404_pages(notified_stack: Stack) -> None:
    await signed_in(notified_stack, "sre")
    token = csrf(await page(notified_stack, "/ui/settings/channels"))
    for channel_id in ("not-a-uuid", str(uuid4())):
        assert (
            await notified_stack.http.get(f"/ui/settings/channels/{channel_id}")
        ).status_code == 404
        tested = await notified_stack.http.post(
            f"/ui/settings/channels/{channel_id}/test", data={"csrf_token": token}
        )
        assert tested.status_code == 404
        assert "There is nothing here." in tested.text


# Deployment buttons ---------------------------------------------------------------------------


async def built(stack: Stack, version: str = "1.0.0") -> None:
    """api `version` built, so that the product exists and the version resolves."""
    ci = stack.auth(await stack.api_key())
    response = await stack.http.post(
        "/build-events/",
        json=build_body(version=version, scm_sha="abc123def456789", build_number="42"),
        headers=ci,
    )
    assert response.status_code in (200, 201), response.text


def webhook_button(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """The new-button form for a webhook button to the receiver."""
    return {
        "product": "api",
        "environments": "production",
        "label": "Ship it",
        "kind": "webhook",
        "url_template": receiver.url("/deploy?v={vi_version}&env={vi_environment_name}"),
        "method": "POST",
        "body_template": '{"version": "{vi_version}", "sha": "{vi_sha}"}',
        "secret": BUTTON_SECRET,
        **fields,
    }


async def buttons(stack: Stack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = await api(stack, "GET", "/deployment-buttons/")
    return listed


async def new_button(stack: Stack, form: dict[str, Any]) -> Any:
    token = csrf(await page(stack, "/ui/settings/buttons"))
    return await stack.http.post("/ui/settings/buttons", data={"csrf_token": token, **form})


async def test_a_release_manager_creates_a_button_and_previews_its_request(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "release_manager")
    created = await new_button(notified_stack, webhook_button(receiver))
    assert created.status_code == 303, created.text
    [button] = await buttons(notified_stack)
    assert created.headers["location"] == f"/ui/settings/buttons/{button['id']}"
    assert (button["kind"], button["method"], button["environments"]) == (
        "webhook",
        "POST",
        ["production"],
    )
    assert button["secret"] == "••••" + BUTTON_SECRET[-4:]
    detail = await page(notified_stack, created.headers["location"])
    assert "Button Ship it created." in detail
    assert BUTTON_SECRET not in detail
    assert "Never fired yet." in detail
    preview = await page(
        notified_stack,
        f"/ui/settings/buttons/{button['id']}?version=1.0.0&environment=production",
    )
    assert receiver.url("/deploy?v=1.0.0&env=production") in preview
    assert '{"version": "1.0.0", "sha": "abc123def456789"}' in preview
    assert "<code>POST</code>" in preview
    assert receiver.requests == []  # a preview sends nothing
    unknown = await notified_stack.http.get(
        f"/ui/settings/buttons/{button['id']}?version=9.9.9&environment=production"
    )
    assert unknown.status_code == 422
    assert "Version: api has no version 9.9.9 (yet)" in text_of(unknown.text)
    listing = await page(notified_stack, "/ui/settings/buttons?product=api")
    assert f'href="/ui/settings/buttons/{button["id"]}">Ship it</a>' in listing
    assert "No buttons for nothing-here." in await page(
        notified_stack, "/ui/settings/buttons?product=nothing-here"
    )


async def test_a_link_button_sends_only_its_url(notified_stack: Stack, receiver: Receiver) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "sre")
    created = await new_button(
        notified_stack,
        webhook_button(
            receiver,
            kind="link",
            environments="staging, qa",
            url_template="https://ci.example.com/run?v={vi_version}",
        ),
    )
    assert created.status_code == 303, created.text
    [button] = await buttons(notified_stack)
    assert (button["kind"], button["method"], button["body_template"], button["secret"]) == (
        "link",
        "GET",
        None,
        None,
    )
    assert button["environments"] == ["staging", "qa"]
    detail = await page(notified_stack, created.headers["location"])
    assert 'name="body_template"' not in detail  # a link has no body to edit
    assert "A link button only opens its URL" in detail


async def test_fired_buttons_list_their_firings(notified_stack: Stack, receiver: Receiver) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "admin")
    await new_button(notified_stack, webhook_button(receiver))
    [button] = await buttons(notified_stack)
    fired = await notified_stack.http.post(
        f"/deployment-buttons/{button['id']}/fire",
        json={"version": "1.0.0", "environment": "production"},
        headers=notified_stack.admin,
    )
    assert fired.status_code == 202, fired.text
    await receiver.wait_for(1, path="/deploy")

    async def finished() -> bool:
        firings = await api(notified_stack, "GET", f"/deployment-buttons/{button['id']}/firings")
        return bool(firings) and firings[0]["status"] == "succeeded"

    await notified_stack.wait_for(finished)
    detail = await page(notified_stack, f"/ui/settings/buttons/{button['id']}")
    words = text_of(detail)
    assert "Firings 1" in words
    assert "api 1.0.0 → production succeeded HTTP 200" in words


# A change to a valid new-button form, and the start of what the page says about it.
BUTTON_MISTAKES: list[tuple[dict[str, Any], str]] = [
    ({"product": "nothing-here"}, "Product: no product is named nothing-here"),
    ({"url_template": "https://{vi_product_name}.example.com/"}, "URL template:"),
    ({"environments": ""}, "Environments:"),
    ({"method": "DELETE"}, "Method:"),
    ({"method": "GET"}, "Body template:"),
    ({"label": ""}, "Label:"),
]


async def test_a_button_form_that_is_not_valid_names_the_field(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "admin")
    for change, named in BUTTON_MISTAKES:
        refused = await new_button(notified_stack, webhook_button(receiver, **change))
        assert refused.status_code == 422, refused.text
        words = text_of(refused.text)
        assert "No button was created:" in words
        assert named in words, named
        assert BUTTON_SECRET not in refused.text
    assert await buttons(notified_stack) == []


async def test_a_second_button_for_an_environment_is_refused(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "admin")
    assert (await new_button(notified_stack, webhook_button(receiver))).status_code == 303
    again = await new_button(notified_stack, webhook_button(receiver, label="Again"))
    assert again.status_code == 409
    assert "api already has a deployment button in production" in text_of(again.text)
    assert len(await buttons(notified_stack)) == 1


async def test_a_button_is_edited_and_deleted_through_its_forms(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "sre")
    await new_button(notified_stack, webhook_button(receiver))
    [button] = await buttons(notified_stack)
    path = f"/ui/settings/buttons/{button['id']}"
    token = csrf(await page(notified_stack, path))
    form = {
        **webhook_button(receiver, label="Ship", environments="production, dr-site"),
        "secret": "",
    }
    saved = await notified_stack.http.post(path, data={"csrf_token": token, **form})
    assert saved.status_code == 303, saved.text
    [changed] = await buttons(notified_stack)
    assert (changed["label"], changed["environments"]) == ("Ship", ["production", "dr-site"])
    assert "Button Ship saved." in await page(notified_stack, path)
    bad = await notified_stack.http.post(
        path, data={"csrf_token": token, **form, "url_template": "nope"}
    )
    assert bad.status_code == 422
    assert "Nothing was saved: URL template:" in text_of(bad.text)
    assert (await notified_stack.http.post(f"{path}/delete")).status_code == 403
    deleted = await notified_stack.http.post(f"{path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/ui/settings/buttons"
    assert await buttons(notified_stack) == []


async def test_an_edit_keeps_a_secret_left_empty(notified_stack: Stack, receiver: Receiver) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "admin")
    await new_button(notified_stack, webhook_button(receiver))
    [button] = await buttons(notified_stack)
    path = f"/ui/settings/buttons/{button['id']}"
    token = csrf(await page(notified_stack, path))
    form = {**webhook_button(receiver, label="Ship"), "secret": ""}
    assert (
        await notified_stack.http.post(path, data={"csrf_token": token, **form})
    ).status_code == 303
    assert (await buttons(notified_stack))[0]["secret"] == "••••" + BUTTON_SECRET[-4:]
    removed = await notified_stack.http.post(
        path, data={"csrf_token": token, **form, "remove_secret": "1"}
    )
    assert removed.status_code == 303
    assert (await buttons(notified_stack))[0]["secret"] is None


async def test_every_role_sees_buttons_but_only_managers_get_forms(
    notified_stack: Stack, receiver: Receiver
) -> None:
    await built(notified_stack)
    await signed_in(notified_stack, "admin")
    await new_button(notified_stack, webhook_button(receiver))
    [button] = await buttons(notified_stack)
    path = f"/ui/settings/buttons/{button['id']}"
    await signed_in(notified_stack, "developer")
    listing = await page(notified_stack, "/ui/settings/buttons")
    assert "Ship it" in listing
    assert 'method="post" action="/ui/settings/buttons"' not in listing
    detail = await page(notified_stack, f"{path}?version=1.0.0&environment=production")
    assert receiver.url("/deploy?v=1.0.0&env=production") in detail  # the preview is for all
    assert f'method="post" action="{path}"' not in detail
    assert f'action="{path}/delete"' not in detail
    token = csrf(detail)
    for url, form in (
        ("/ui/settings/buttons", webhook_button(receiver, environments="staging")),
        (path, webhook_button(receiver, label="Mine")),
        (f"{path}/delete", {}),
    ):
        refused = await notified_stack.http.post(url, data={"csrf_token": token, **form})
        assert refused.status_code == 403, url
    [unchanged] = await buttons(notified_stack)
    assert unchanged["label"] == "Ship it"
    unsigned = await notified_stack.http.post("/ui/settings/buttons", data=webhook_button(receiver))
    assert unsigned.status_code == 403


async def test_unknown_buttons_are_404_pages(notified_stack: Stack) -> None:
    await signed_in(notified_stack, "admin")
    token = csrf(await page(notified_stack, "/ui/settings/buttons"))
    for button_id in ("not-a-uuid", str(uuid4())):
        assert (
            await notified_stack.http.get(f"/ui/settings/buttons/{button_id}")
        ).status_code == 404
        deleted = await notified_stack.http.post(
            f"/ui/settings/buttons/{button_id}/delete", data={"csrf_token": token}
        )
        assert deleted.status_code == 404


# The audit log --------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_the_audit_log_is_filtered_by_kind_actor_and_time(stack: Stack) -> None:
    await stack.api_key("audited-key")
    await signed_in(stack, "security")
    log = text_of(await page(stack, "/ui/settings/audit"))
    assert "api_key.created" in log
    assert "user.created" in log
    keys = text_of(await page(stack, "/ui/settings/audit?kind=api_key."))
    assert "1 entry matches." in keys
    assert "user.created" not in keys
    exact = text_of(await page(stack, "/ui/settings/audit?kind=user.created"))
    assert "api_key.created" not in exact
    nobody = text_of(await page(stack, "/ui/settings/audit?actor=nobody"))
    assert "Nothing matches these filters." in nobody
    later = text_of(await page(stack, "/ui/settings/audit?since=2999-01-01T00:00"))
    assert "0 entries match." in later
    bad = await stack.http.get("/ui/settings/audit?since=yesterday")
    assert bad.status_code == 422
    assert "Since:" in text_of(bad.text)


@pytest.mark.databases("sqlite")
async def test_the_audit_log_pages_back(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    # Names no random token of the page (its CSRF token) can contain: they have spaces.
    for name in ("audit key 1", "audit key 2", "audit key 3"):
        await stack.api_key(name)
    await signed_in(stack, "compliance")
    first = await page(stack, "/ui/settings/audit?kind=api_key.")
    older = re.search(r'href="(/ui/settings/audit\?[^"]+before=\d+)">Older', first)
    assert older, first
    assert "audit key 3" in first
    assert "audit key 1" not in first
    second = await page(stack, older.group(1))
    assert "audit key 1" in second
    assert "audit key 3" not in second
    assert "Newest</a>" in second


@pytest.mark.databases("sqlite")
async def test_roles_without_the_audit_log_are_refused(stack: Stack) -> None:
    await signed_in(stack, "developer")
    refused = await stack.http.get("/ui/settings/audit")
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.text
    await signed_in(stack, "release_manager")
    assert (await stack.http.get("/ui/settings/audit")).status_code == 200
