"""The dashboard's rules over HTTP: the list and its mode switch, a form per rule type, a rule's
page with its next windows, deleting, the violations log; CSRF and roles on every action."""

import html
import re
from typing import Any
from uuid import uuid4

import pytest

from tests.support.flows import csrf, deploy_body, signed_in
from tests.support.stack import Stack

FLOW_NAME = "staging before production"
FLOW = {
    "name": FLOW_NAME,
    "rule_type": "flow",
    "config": {"prerequisites": ["staging"], "target": "production"},
}
# Far enough ahead to stay ahead; local times in Berlin (CET, UTC+1).
FREEZE = {
    "name": "christmas freeze",
    "rule_type": "schedule",
    "config": {
        "kind": "deny",
        "timezone": "Europe/Berlin",
        "reason": "Christmas freeze",
        "windows": [{"start": "2099-12-23T00:00", "end": "2100-01-02T00:00"}],
    },
}


async def api_rule(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """A rule made through the JSON API, as the admin."""
    response = await stack.http.post("/deployment-rules/", json=body, headers=stack.admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(stack: Stack, rule_id: str) -> dict[str, Any]:
    """A rule as the JSON API shows it now."""
    response = await stack.http.get(f"/deployment-rules/{rule_id}", headers=stack.admin)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def all_rules(stack: Stack) -> list[dict[str, Any]]:
    response = await stack.http.get("/deployment-rules/", headers=stack.admin)
    listed: list[dict[str, Any]] = response.json()
    return listed


async def page_token(stack: Stack, path: str) -> str:
    """The CSRF token of a page the user has open."""
    page = await stack.http.get(path)
    assert page.status_code == 200, page.text
    return csrf(page.text)


def text_of(page: str) -> str:
    """A page's visible words, tags and whitespace folded away."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def post_new(stack: Stack, rule_type: str, **fields: Any) -> Any:
    """Send the new-rule form of a type as its page has it."""
    token = await page_token(stack, f"/ui/rules/new?type={rule_type}")
    data = {"csrf_token": token, "rule_type": rule_type, "mode": "enabled", **fields}
    return await stack.http.post("/ui/rules/new", data=data)


# The list and the mode switch --------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_the_list_shows_each_rule_and_managers_get_the_switch(stack: Stack) -> None:
    rule = await api_rule(stack, {**FREEZE, "products": ["api", "web"]})
    await api_rule(stack, {**FLOW, "mode": "report_only"})
    await signed_in(stack, "sre")
    page = await stack.http.get("/ui/rules")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "christmas freeze Schedule" in words
    assert "api, web" in words
    assert "staging before production Flow" in words
    assert "production (the flow's target)" in words
    assert f'action="/ui/rules/{rule["id"]}/mode"' in page.text
    assert 'value="report_only" class="current" disabled' in page.text
    assert 'href="/ui/rules/new?type=schedule"' in page.text


@pytest.mark.databases("sqlite")
async def test_a_reader_sees_rules_but_no_switch_and_may_not_switch(stack: Stack) -> None:
    rule = await api_rule(stack, FLOW)
    await signed_in(stack, "qa")
    page = await stack.http.get("/ui/rules")
    assert page.status_code == 200
    assert "staging before production" in page.text
    assert "/mode" not in page.text
    assert "/ui/rules/new" not in page.text
    detail = await stack.http.get(f"/ui/rules/{rule['id']}")
    assert detail.status_code == 200
    assert "/delete" not in detail.text
    assert "/edit" not in detail.text
    token = csrf(page.text)  # the sign-out form's: a real token of this session
    switched = await stack.http.post(
        f"/ui/rules/{rule['id']}/mode", data={"csrf_token": token, "mode": "disabled"}
    )
    assert switched.status_code == 403
    assert switched.headers["content-type"].startswith("text/html")
    deleted = await stack.http.post(f"/ui/rules/{rule['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 403
    created = await stack.http.post(
        "/ui/rules/new",
        data={"csrf_token": token, "rule_type": "flow", "name": "qa's", "target": "production"},
    )
    assert created.status_code == 403
    for path in ("/ui/rules/new?type=flow", f"/ui/rules/{rule['id']}/edit"):
        assert (await stack.http.get(path)).status_code == 403, path
    assert (await stored(stack, rule["id"]))["mode"] == "enabled"
    assert len(await all_rules(stack)) == 1


@pytest.mark.databases("sqlite")
async def test_the_mode_switch_works_through_its_form_and_needs_the_token(
    stack: Stack,
) -> None:
    rule = await api_rule(stack, FLOW)
    await signed_in(stack, "release_manager")
    token = await page_token(stack, "/ui/rules")
    path = f"/ui/rules/{rule['id']}/mode"
    refused = await stack.http.post(path, data={"mode": "report_only"})
    assert refused.status_code == 403
    wrong = await stack.http.post(path, data={"mode": "report_only", "csrf_token": "x"})
    assert wrong.status_code == 403
    assert (await stored(stack, rule["id"]))["mode"] == "enabled"
    done = await stack.http.post(path, data={"mode": "report_only", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/rules"
    assert (await stored(stack, rule["id"]))["mode"] == "report_only"
    after = await stack.http.get("/ui/rules")
    assert "Rule now report-only." in after.text
    # From the rule's own page, back to it.
    back = f"/ui/rules/{rule['id']}"
    again = await stack.http.post(
        path, data={"mode": "disabled", "csrf_token": token, "back": back}
    )
    assert again.headers["location"] == back
    assert (await stored(stack, rule["id"]))["mode"] == "disabled"
    bad = await stack.http.post(path, data={"mode": "on", "csrf_token": token})
    assert bad.status_code == 422
    assert "Mode:" in bad.text


# Creating, one form per type ----------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_a_one_time_freeze_made_through_the_form(stack: Stack) -> None:
    await signed_in(stack, "admin")
    form = await stack.http.get("/ui/rules/new?type=schedule")
    assert 'list="rule-zones"' in form.text
    assert '<option value="Europe/Berlin">' in form.text
    assert 'type="datetime-local" name="window_start"' in form.text
    response = await post_new(
        stack,
        "schedule",
        name="christmas freeze",
        products="api, web",
        environments="production",
        kind="deny",
        timezone="Europe/Berlin",
        reason="Christmas freeze",
        window_start=["2099-12-23T00:00", ""],
        window_end=["2100-01-02T00:00", ""],
        rrule="",
        dtstart="",
        duration_minutes="",
    )
    assert response.status_code == 303, response.text
    [rule] = await all_rules(stack)
    assert response.headers["location"] == f"/ui/rules/{rule['id']}"
    assert (rule["products"], rule["environments"]) == (["api", "web"], ["production"])
    assert rule["config"] == {
        "kind": "deny",
        "timezone": "Europe/Berlin",
        "reason": "Christmas freeze",
        "windows": [{"start": "2099-12-23T00:00:00", "end": "2100-01-02T00:00:00"}],
    }
    page = await stack.http.get(response.headers["location"])
    assert "Rule christmas freeze created." in page.text
    words = text_of(page.text)
    # The next window, in Berlin and in UTC.
    assert "From (Europe/Berlin)" in words
    assert "Wed 2099-12-23 00:00" in words
    assert "2099-12-22 23:00 UTC" in words
    assert "2099-12-23 00:00 until 2100-01-02 00:00" in words


@pytest.mark.databases("sqlite")
async def test_a_recurring_window_made_through_the_form(stack: Stack) -> None:
    await signed_in(stack, "sre")
    response = await post_new(
        stack,
        "schedule",
        name="weekend",
        kind="allow",
        timezone="America/New_York",
        rrule="FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0",
        dtstart="2026-01-02T17:00",
        duration_minutes="900",
        window_start="",
        window_end="",
    )
    assert response.status_code == 303, response.text
    [rule] = await all_rules(stack)
    assert rule["config"] == {
        "kind": "allow",
        "timezone": "America/New_York",
        "windows": [],
        "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=0",
        "dtstart": "2026-01-02T17:00:00",
        "duration_minutes": 900.0,
    }
    page = await stack.http.get(response.headers["location"])
    words = text_of(page.text)
    assert "every week on Friday at 17:00, for 15 h each time" in words
    assert "accepted only during these windows" in words
    # Fridays 17:00 in New York, whichever the season.
    local = re.findall(r"<td>(\w{3}) \d{4}-\d\d-\d\d (\d\d:\d\d)</td>", page.text)
    assert local[::2] == [("Fri", "17:00")] * 8
    assert local[1::2] == [("Sat", "08:00")] * 8


@pytest.mark.databases("sqlite")
async def test_the_other_types_made_through_their_forms(stack: Stack) -> None:
    await signed_in(stack, "admin")
    for rule_type in ("dr_required", "version_approval", "flow"):
        form = await stack.http.get(f"/ui/rules/new?type={rule_type}")
        assert form.status_code == 200
        assert 'name="csrf_token"' in form.text
    dr = await post_new(stack, "dr_required", name="needs a DR", approval_types=["qa", "security"])
    signoff = await post_new(
        stack,
        "version_approval",
        name="security sign-off",
        mode="report_only",
        approval_types="security",
        environment="staging",
    )
    anywhere = await post_new(
        stack, "version_approval", name="qa anywhere", approval_types="qa", environment=""
    )
    flow = await post_new(
        stack,
        "flow",
        name="the path",
        target="production",
        prerequisites="test, staging",
        min_soak_minutes="90",
        environments="ignored: a flow applies to its target",
    )
    for response in (dr, signoff, anywhere, flow):
        assert response.status_code == 303, response.text
    made = {r["name"]: r for r in await all_rules(stack)}
    assert made["needs a DR"]["config"] == {"approval_types": ["qa", "security"]}
    assert made["security sign-off"]["mode"] == "report_only"
    assert made["security sign-off"]["config"] == {
        "approval_types": ["security"],
        "environment": "staging",
    }
    assert made["qa anywhere"]["config"] == {"approval_types": ["qa"]}
    assert made["the path"]["environments"] == []
    # No strict_order box sent: unticked.
    assert made["the path"]["config"] == {
        "prerequisites": ["test", "staging"],
        "target": "production",
        "strict_order": False,
        "min_soak_minutes": 90.0,
    }
    page = await stack.http.get(f"/ui/rules/{made['the path']['id']}")
    assert "completed in test, staging (in any order)" in text_of(page.text)
    assert "at least 1 h 30 min" in text_of(page.text)


@pytest.mark.databases("sqlite")
async def test_new_without_a_type_offers_the_types_and_an_unknown_type_is_404(
    stack: Stack,
) -> None:
    await signed_in(stack, "admin")
    chooser = await stack.http.get("/ui/rules/new")
    assert chooser.status_code == 200
    for rule_type in ("schedule", "dr_required", "flow", "version_approval"):
        assert f'href="/ui/rules/new?type={rule_type}"' in chooser.text
    unknown = await stack.http.get("/ui/rules/new?type=freeze")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")


@pytest.mark.databases("sqlite")
async def test_creating_needs_the_pages_token(stack: Stack) -> None:
    await signed_in(stack, "admin")
    response = await stack.http.post(
        "/ui/rules/new",
        data={"rule_type": "dr_required", "name": "tokenless", "approval_types": "qa"},
    )
    assert response.status_code == 403
    assert await all_rules(stack) == []


# What the form says when policy refuses it ---------------------------------------------------


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("rule_type", "fields", "said", "marked"),
    [
        (
            "schedule",
            {"timezone": "Mars/Olympus_Mons", "window_start": "2099-01-01T00:00"},
            "Time zone: unknown time zone 'Mars/Olympus_Mons'",
            'name="timezone" list="rule-zones" value="Mars/Olympus_Mons"',
        ),
        (
            "schedule",
            {"rrule": "FREQ=WEEKLY", "duration_minutes": "long"},
            "Duration (minutes): Input should be a valid number",
            'value="long" placeholder="900" aria-invalid="true"',
        ),
        (
            "schedule",
            {"window_start": "2099-01-02T00:00", "window_end": "2099-01-01T00:00"},
            "One-time window 1: a window must end after it starts",
            '<fieldset aria-invalid="true">',
        ),
        (
            "dr_required",
            {},
            "Approval types: List should have at least 1 item",
            '<fieldset aria-invalid="true">',
        ),
        (
            "flow",
            {"target": "staging", "prerequisites": "staging"},
            "Configuration: the target cannot be its own prerequisite",
            'value="staging"',
        ),
        (
            "flow",
            {"name": " ", "target": "production", "prerequisites": "staging"},
            "Name: ",
            'value="" required maxlength="255" aria-invalid="true"',
        ),
    ],
)
async def test_a_refused_form_comes_back_naming_the_field(
    stack: Stack, rule_type: str, fields: dict[str, str], said: str, marked: str
) -> None:
    await signed_in(stack, "admin")
    response = await post_new(stack, rule_type, **{"name": "bad", **fields})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert said in html.unescape(response.text)
    assert 'role="alert"' in response.text
    # What was typed is still there, the field at fault marked.
    assert marked in html.unescape(response.text)
    assert await all_rules(stack) == []


@pytest.mark.databases("sqlite")
async def test_a_taken_name_comes_back_on_the_form(stack: Stack) -> None:
    await api_rule(stack, FLOW)
    await signed_in(stack, "admin")
    response = await post_new(stack, "dr_required", name=FLOW_NAME, approval_types="qa")
    assert response.status_code == 409
    assert f"A rule named {FLOW_NAME} exists" in response.text
    assert len(await all_rules(stack)) == 1


# Editing and deleting -----------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_edit_shows_the_rule_and_saves_changes(stack: Stack) -> None:
    rule = await api_rule(stack, FREEZE)
    await signed_in(stack, "admin")
    form = await stack.http.get(f"/ui/rules/{rule['id']}/edit")
    assert form.status_code == 200
    assert 'value="christmas freeze"' in form.text
    assert 'value="Europe/Berlin"' in form.text
    assert 'value="2099-12-23T00:00"' in form.text
    assert "Next windows, as saved" in form.text
    path = f"/ui/rules/{rule['id']}/edit"
    data = {
        "name": "new year freeze",
        "mode": "report_only",
        "products": "api",
        "environments": "",
        "kind": "deny",
        "timezone": "Europe/Berlin",
        "reason": "",
        "window_start": ["2099-12-31T18:00", ""],
        "window_end": ["2100-01-01T12:00", ""],
        "rrule": "",
    }
    refused = await stack.http.post(path, data=data)
    assert refused.status_code == 403
    assert (await stored(stack, rule["id"]))["name"] == "christmas freeze"
    saved = await stack.http.post(path, data={**data, "csrf_token": csrf(form.text)})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/ui/rules/{rule['id']}"
    now = await stored(stack, rule["id"])
    assert (now["name"], now["mode"], now["products"]) == (
        "new year freeze",
        "report_only",
        ["api"],
    )
    assert now["config"] == {
        "kind": "deny",
        "timezone": "Europe/Berlin",
        "windows": [{"start": "2099-12-31T18:00:00", "end": "2100-01-01T12:00:00"}],
    }
    bad = await stack.http.post(
        path, data={**data, "timezone": "Nowhere", "csrf_token": csrf(form.text)}
    )
    assert bad.status_code == 422
    assert "Time zone:" in bad.text
    assert (await stored(stack, rule["id"]))["config"]["timezone"] == "Europe/Berlin"


@pytest.mark.databases("sqlite")
async def test_delete_through_the_rules_page(stack: Stack) -> None:
    rule = await api_rule(stack, FLOW)
    await signed_in(stack, "sre")
    page = await stack.http.get(f"/ui/rules/{rule['id']}")
    assert f'action="/ui/rules/{rule["id"]}/delete"' in page.text
    path = f"/ui/rules/{rule['id']}/delete"
    assert (await stack.http.post(path)).status_code == 403
    assert len(await all_rules(stack)) == 1
    done = await stack.http.post(path, data={"csrf_token": csrf(page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/rules"
    assert await all_rules(stack) == []
    assert "Rule deleted." in (await stack.http.get("/ui/rules")).text


@pytest.mark.databases("sqlite")
async def test_unknown_rules_are_404_pages(stack: Stack) -> None:
    await signed_in(stack, "admin")
    token = await page_token(stack, "/ui/rules")
    for rule_id in (str(uuid4()), "not-a-rule"):
        for path in (f"/ui/rules/{rule_id}", f"/ui/rules/{rule_id}/edit"):
            response = await stack.http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("text/html")
        for action, data in (("mode", {"mode": "disabled"}), ("delete", {}), ("edit", {})):
            response = await stack.http.post(
                f"/ui/rules/{rule_id}/{action}", data={**data, "csrf_token": token}
            )
            assert response.status_code == 404, (rule_id, action)
            assert response.headers["content-type"].startswith("text/html")


# The violations log ----------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_the_violations_log_and_a_rules_recent_violations(
    stack: Stack, ci: dict[str, str]
) -> None:
    flow = await api_rule(stack, FLOW)
    await api_rule(
        stack,
        {
            "name": "web needs a DR",
            "rule_type": "dr_required",
            "mode": "report_only",
            "products": ["web"],
            "config": {"approval_types": ["qa"]},
        },
    )
    for product in ("api", "web"):
        sent = await stack.http.post(
            "/deployment-events/", json=deploy_body(product_name=product), headers=ci
        )
        assert sent.status_code == 428, sent.text
    await signed_in(stack, "viewer")
    log = await stack.http.get("/ui/violations")
    assert log.status_code == 200
    words = text_of(log.text)
    assert "3 violations" in words
    assert "blocked api 1.0.0 → production" in words
    assert "reported web 1.0.0 → production" in words
    assert "FLOW_VIOLATION" in words
    assert f'href="/ui/rules/{flow["id"]}"' in log.text
    assert '<option value="web needs a DR">' in log.text
    reported = await stack.http.get("/ui/violations", params={"outcome": "reported"})
    assert text_of(reported.text).count("reported web") == 1
    assert "blocked api" not in text_of(reported.text)
    assert 'value="reported" selected' in reported.text
    by_rule = await stack.http.get(
        "/ui/violations", params={"rule": FLOW_NAME, "product": "web", "environment": ""}
    )
    assert "1 violation matches" in text_of(by_rule.text)
    nothing = await stack.http.get("/ui/violations", params={"environment": "staging"})
    assert "Nothing matches these filters." in nothing.text
    bad = await stack.http.get("/ui/violations", params={"outcome": "ignored"})
    assert bad.status_code == 422
    assert "Outcome:" in bad.text
    page = await stack.http.get(f"/ui/rules/{flow['id']}")
    assert text_of(page.text).count("blocked") == 2
    assert "reported web" not in text_of(page.text)
    assert "/ui/violations?rule=staging%20before%20production" in page.text


@pytest.mark.databases("sqlite")
async def test_a_schedule_is_previewed_before_it_is_saved(stack: Stack) -> None:
    await signed_in(stack, "sre")
    fields = {
        "name": "friday evenings",
        "kind": "deny",
        "timezone": "Europe/Berlin",
        "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=18;BYMINUTE=0",
        "dtstart": "2026-01-02T18:00",
        "duration_minutes": "120",
        "window_start": "",
        "window_end": "",
    }
    preview = await post_new(stack, "schedule", action="preview", **fields)
    assert preview.status_code == 200, preview.text
    words = text_of(preview.text)
    assert "Next windows, as written" in words
    assert "Fri" in words
    assert "18:00 until" in words
    assert 'value="friday evenings"' in preview.text  # the form keeps what was typed
    assert await all_rules(stack) == []
    wrong = await post_new(
        stack, "schedule", action="preview", **{**fields, "rrule": "FREQ=SOMETIMES"}
    )
    assert wrong.status_code == 422
    assert await all_rules(stack) == []
