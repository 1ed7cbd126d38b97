"""`/deployment-buttons/`: one per product and environment, rendered, fired at most once."""

import json
from typing import Any

from tests.support.fake_slack import VALID_TOKEN, FakeSlack
from tests.support.flows import build_body
from tests.support.notifier import Waits
from tests.support.receiver import Receiver, Reply, verify_signature
from tests.support.stack import Stack

SECRET = "button-secret-0123456789"


async def built(stack: Stack, version: str = "1.4.2", **fields: Any) -> dict[str, str]:
    ci = stack.auth(await stack.api_key())
    body = build_body(version=version, scm_sha="abc123def", build_number="77", **fields)
    response = await stack.http.post("/build-events/", json=body, headers=ci)
    assert response.status_code in (200, 201), response.text
    return ci


def webhook_button(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    return {
        "product": "api",
        "environments": ["staging", "production"],
        "label": "Deploy",
        "kind": "webhook",
        "url_template": receiver.url("/job/deploy?VERSION={vi_version}&ENV={vi_environment_name}"),
        "body_template": '{"version": "{vi_version}", "sha": "{vi_sha}", "literal": {"a": 1}}',
        "secret": SECRET,
        **fields,
    }


async def create(stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return await stack.http.post("/deployment-buttons/", json=body, headers=headers or stack.admin)


async def test_a_button_is_created_for_a_known_product_with_its_secret_masked(
    notified: Stack, receiver: Receiver
) -> None:
    await built(notified)
    created = await create(notified, webhook_button(receiver))
    assert created.status_code == 201, created.text
    button = created.json()
    assert (button["product"], button["kind"], button["method"]) == ("api", "webhook", "POST")
    assert button["environments"] == ["staging", "production"]
    assert button["secret"] == "••••6789"
    fetched = await notified.http.get(f"/deployment-buttons/{button['id']}", headers=notified.admin)
    assert fetched.json() == button
    listed = await notified.http.get("/deployment-buttons/?product=api", headers=notified.admin)
    assert listed.json() == [button]
    assert (
        await notified.http.get("/deployment-buttons/?product=web", headers=notified.admin)
    ).json() == []


async def test_one_button_per_product_and_environment(notified: Stack, receiver: Receiver) -> None:
    await built(notified)
    assert (await create(notified, webhook_button(receiver))).status_code == 201
    clash = await create(notified, webhook_button(receiver, environments=["production", "eu"]))
    assert clash.status_code == 409, clash.text
    other = await create(notified, webhook_button(receiver, environments=["eu"]))
    assert other.status_code == 201, other.text


async def test_bad_buttons_are_refused(notified: Stack, receiver: Receiver) -> None:
    await built(notified)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"product": "nothing-like-it"}, ["body", "product"]),
        (
            {"url_template": "https://{vi_product_name}.example.com/deploy"},
            ["body", "url_template"],
        ),
        ({"url_template": "https://ci.example.com/{vi_nope}"}, ["body", "url_template"]),
        (
            {"kind": "link", "url_template": "https://ci.example.com/x", "method": "POST"},
            ["body", "kind"],
        ),
    ]
    for change, loc in cases:
        response = await create(notified, webhook_button(receiver, **change))
        assert response.status_code == 422, (change, response.text)
        assert response.json()["detail"][0]["loc"] == loc, response.text
    assert (await notified.http.get("/deployment-buttons/", headers=notified.admin)).json() == []


async def test_only_rule_managers_configure_buttons(notified: Stack, receiver: Receiver) -> None:
    await built(notified)
    developer = notified.auth(await notified.user("developer"))
    assert (await create(notified, webhook_button(receiver), developer)).status_code == 403
    sre = notified.auth(await notified.user("sre"))
    assert (await create(notified, webhook_button(receiver), sre)).status_code == 201


async def test_preview_renders_encoded_values(notified: Stack, receiver: Receiver) -> None:
    await built(notified, version="1.4.2+build/7")
    button = (await create(notified, webhook_button(receiver))).json()
    preview = await notified.http.post(
        f"/deployment-buttons/{button['id']}/preview",
        json={"version": "1.4.2+build/7", "environment": "production"},
        headers=notified.admin,
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["url"] == receiver.url("/job/deploy?VERSION=1.4.2%2Bbuild%2F7&ENV=production")
    assert json.loads(shown["body"]) == {
        "version": "1.4.2+build/7",
        "sha": "abc123def",
        "literal": {"a": 1},
    }
    assert receiver.requests == []


async def test_a_fired_webhook_button_calls_once_signed_and_logs_it(
    notified: Stack, receiver: Receiver
) -> None:
    await built(notified)
    button = (await create(notified, webhook_button(receiver))).json()
    developer = notified.auth(await notified.user("developer"))
    fired = await notified.http.post(
        f"/deployment-buttons/{button['id']}/fire",
        json={"version": "1.4.2", "environment": "production"},
        headers=developer,
    )
    assert fired.status_code == 202, fired.text
    firing_id = fired.json()["firing_id"]
    await receiver.wait_for(1)
    [request] = receiver.requests
    assert request.method == "POST"
    assert dict(request.query) == {"VERSION": "1.4.2", "ENV": "production"}
    assert request.headers["X-Versioner-Event"] == "button.fired"
    assert request.headers["X-Versioner-Delivery"] == firing_id
    assert verify_signature(SECRET, request.body, request.headers["X-Versioner-Signature"])
    assert request.json()["sha"] == "abc123def"

    async def logged() -> bool:
        firings = await notified.http.get(
            f"/deployment-buttons/{button['id']}/firings", headers=notified.admin
        )
        return [(f["id"], f["status"]) for f in firings.json()] == [(firing_id, "succeeded")]

    await notified.wait_for(logged)


async def test_a_webhook_that_fails_is_not_fired_again(
    notified: Stack, receiver: Receiver, waits: Waits
) -> None:
    receiver.script("/job/deploy", Reply(status=500))
    await built(notified)
    button = (await create(notified, webhook_button(receiver))).json()
    fired = await notified.http.post(
        f"/deployment-buttons/{button['id']}/fire",
        json={"version": "1.4.2", "environment": "staging"},
        headers=notified.admin,
    )
    assert fired.status_code == 202

    async def failed() -> bool:
        firings = await notified.http.get(
            f"/deployment-buttons/{button['id']}/firings", headers=notified.admin
        )
        return [(f["status"], f["status_code"]) for f in firings.json()] == [("failed", 500)]

    await notified.wait_for(failed)
    assert len(receiver.requests) == 1
    assert waits == []


async def test_a_busy_receiver_asking_to_wait_is_tried_again(
    notified: Stack, receiver: Receiver, waits: Waits
) -> None:
    receiver.script("/job/deploy", Reply(status=503, headers={"Retry-After": "5"}))
    await built(notified)
    button = (await create(notified, webhook_button(receiver))).json()
    await notified.http.post(
        f"/deployment-buttons/{button['id']}/fire",
        json={"version": "1.4.2", "environment": "staging"},
        headers=notified.admin,
    )
    await receiver.wait_for(2)
    assert waits == [5.0]


async def test_fires_that_cannot_be_are_refused(notified: Stack, receiver: Receiver) -> None:
    await built(notified)
    link = (
        await create(
            notified,
            {
                "product": "api",
                "environments": ["dev"],
                "kind": "link",
                "url_template": "https://ci.example.com/job?v={vi_version}",
                "method": "GET",
            },
        )
    ).json()
    hook = (await create(notified, webhook_button(receiver))).json()
    viewer = notified.auth(await notified.user("viewer"))
    cases = [
        (link["id"], {"version": "1.4.2", "environment": "dev"}, notified.admin, 422),
        (hook["id"], {"version": "1.4.2", "environment": "dev"}, notified.admin, 422),
        (hook["id"], {"version": "9.9.9", "environment": "staging"}, notified.admin, 422),
        (hook["id"], {"version": "1.4.2", "environment": "staging"}, viewer, 403),
    ]
    for ident, body, headers, status in cases:
        response = await notified.http.post(
            f"/deployment-buttons/{ident}/fire", json=body, headers=headers
        )
        assert response.status_code == status, (body, response.text)
    assert receiver.requests == []


async def test_ready_to_deploy_carries_the_buttons_and_a_fire_reports_in_its_thread(
    notified: Stack, fake_slack: FakeSlack, receiver: Receiver
) -> None:
    channel = await notified.http.post(
        "/notification-channels/",
        json={
            "name": "deploys",
            "kind": "slack",
            "config": {"bot_token": VALID_TOKEN, "channel": "C0DEPLOYS"},
            "events": ["build.completed"],
        },
        headers=notified.admin,
    )
    assert channel.status_code == 201, channel.text
    await built(notified, version="1.0.0")
    await create(
        notified,
        {
            "product": "api",
            "environments": ["dev"],
            "kind": "link",
            "label": "Open job",
            "url_template": "https://ci.example.com/job?v={vi_version}",
            "method": "GET",
        },
    )
    button = (await create(notified, webhook_button(receiver))).json()
    await built(notified, version="1.4.2")
    await fake_slack.wait_for(2)
    ready = fake_slack.posted("C0DEPLOYS")[-1]
    elements = [
        element
        for block in ready.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert any(e.get("url") == "https://ci.example.com/job?v=1.4.2" for e in elements)
    assert sum(1 for e in elements if "value" in e) == 2  # staging and production

    await notified.http.post(
        f"/deployment-buttons/{button['id']}/fire",
        json={"version": "1.4.2", "environment": "production"},
        headers=notified.admin,
    )
    await fake_slack.wait_for(3)
    outcome = fake_slack.posted("C0DEPLOYS")[-1]
    assert outcome.args["thread_ts"] == ready.response["ts"]
    assert "production" in outcome.args["text"]


async def test_a_patch_changes_only_what_it_names(notified: Stack, receiver: Receiver) -> None:
    await built(notified)
    button = (await create(notified, webhook_button(receiver))).json()
    patched = await notified.http.patch(
        f"/deployment-buttons/{button['id']}", json={"label": "Ship"}, headers=notified.admin
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["label"] == "Ship"
    assert after["secret"] == button["secret"]
    assert after["body_template"] == button["body_template"]
    assert after["url_template"] == button["url_template"]
    removed = await notified.http.patch(
        f"/deployment-buttons/{button['id']}",
        json={"secret": None, "body_template": None},
        headers=notified.admin,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["secret"] is None
    assert removed.json()["body_template"] is None


async def test_buttons_are_read_by_people_not_by_api_keys(
    notified: Stack, receiver: Receiver
) -> None:
    ci = await built(notified)
    button = (await create(notified, webhook_button(receiver))).json()
    viewer = notified.auth(await notified.user("viewer"))
    reads = [
        ("GET", "/deployment-buttons/", None),
        ("GET", f"/deployment-buttons/{button['id']}", None),
        ("GET", f"/deployment-buttons/{button['id']}/firings", None),
        (
            "POST",
            f"/deployment-buttons/{button['id']}/preview",
            {"version": "1.4.2", "environment": "staging"},
        ),
    ]
    for method, path, body in reads:
        by_key = await notified.http.request(method, path, json=body, headers=ci)
        assert by_key.status_code == 403, (path, by_key.text)
        by_person = await notified.http.request(method, path, json=body, headers=viewer)
        assert by_person.status_code == 200, (path, by_person.text)
