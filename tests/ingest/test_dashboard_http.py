"""The dashboard over HTTP: sign-in, the session cookie, CSRF, redirects, the home page."""

from uuid import uuid4

import pytest

from tests.support.flows import build_body, csrf, deploy_body, sign_in, signed_in
from tests.support.stack import Stack


@pytest.mark.databases("sqlite")
async def test_signed_out_pages_redirect_to_the_sign_in_form_and_back(stack: Stack) -> None:
    response = await stack.http.get("/ui/deployments/" + str(uuid4()) + "?x=1")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=%2Fui%2Fdeployments%2F")
    form = await stack.http.get(response.headers["location"])
    assert form.status_code == 200
    assert 'name="token"' in form.text
    assert "/ui/deployments/" in form.text


@pytest.mark.databases("sqlite")
async def test_a_personal_token_signs_in_with_a_safe_cookie(stack: Stack) -> None:
    token = await stack.user("sre")
    response = await sign_in(stack.http, token, "/ui/deployments/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/deployments/x"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # http here; https public URLs get Secure
    assert token not in response.headers["set-cookie"]  # sealed, not just signed
    home = await stack.http.get("/ui/")
    assert home.status_code == 200
    assert "sre" in home.text


@pytest.mark.databases("sqlite")
async def test_api_keys_and_bad_tokens_get_the_form_again(stack: Stack) -> None:
    key = await stack.api_key()
    for token in (key, "pat_" + "x" * 40, "nonsense"):
        response = await sign_in(stack.http, token)
        assert response.status_code == 401
        assert 'role="alert"' in response.text
        assert "versioner_session" not in response.headers.get("set-cookie", "")
    assert (await stack.http.get("/ui/")).status_code == 303


@pytest.mark.databases("sqlite")
async def test_sign_in_never_sends_you_elsewhere(stack: Stack) -> None:
    token = await stack.user("viewer")
    for target in ("https://evil.example/", "//evil.example/ui/", "/api-keys/"):
        response = await sign_in(stack.http, token, target)
        assert response.headers["location"] == "/ui/", target


@pytest.mark.databases("sqlite")
async def test_a_forged_cookie_is_no_session(stack: Stack) -> None:
    stack.http.cookies.set("versioner_session", "forged-value", domain="ingest.test")
    assert (await stack.http.get("/ui/")).status_code == 303


@pytest.mark.databases("sqlite")
async def test_json_endpoints_never_accept_the_cookie(stack: Stack) -> None:
    await signed_in(stack, "admin")
    assert (await stack.http.get("/products/")).status_code == 401


@pytest.mark.databases("sqlite")
async def test_sign_out_needs_the_pages_csrf_token(stack: Stack) -> None:
    await signed_in(stack)
    home = await stack.http.get("/ui/")
    refused = await stack.http.post("/ui/logout", data={})
    assert refused.status_code == 403
    assert (await stack.http.get("/ui/")).status_code == 200
    wrong = await stack.http.post("/ui/logout", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    done = await stack.http.post("/ui/logout", data={"csrf_token": csrf(home.text)})
    assert done.status_code == 303
    assert (await stack.http.get("/ui/")).status_code == 303


@pytest.mark.databases("sqlite")
async def test_the_home_matrix_and_its_live_part_show_a_new_deployment(
    stack: Stack, ci: dict[str, str]
) -> None:
    await signed_in(stack)
    before = await stack.http.get("/ui/live/home")
    assert "2.0.0" not in before.text
    await stack.http.post("/build-events/", json=build_body(version="2.0.0"), headers=ci)
    for status in ("started", "completed"):
        sent = await stack.http.post(
            "/deployment-events/",
            json=deploy_body(version="2.0.0", environment_name="staging", status=status),
            headers=ci,
        )
        assert sent.status_code in (200, 201), sent.text
    after = await stack.http.get("/ui/live/home")
    assert after.status_code == 200
    assert 'data-product="api" data-environment="staging"' in after.text
    assert "2.0.0" in after.text
    home = await stack.http.get("/ui/")
    assert 'data-live="/ui/live/home' in home.text
    assert "/ui/static/app.js" in home.text
    assert (await stack.http.get("/ui/static/app.js")).status_code == 200


@pytest.mark.databases("sqlite")
async def test_filters_are_kept_across_visits(stack: Stack, ci: dict[str, str]) -> None:
    await signed_in(stack)
    for product in ("api", "web"):
        await stack.http.post(
            "/deployment-events/",
            json=deploy_body(product_name=product, status="completed"),
            headers=ci,
        )
    narrowed = await stack.http.get("/ui/", params={"products": "web"})
    assert ">web</a>" in narrowed.text
    assert ">api</a>" not in narrowed.text
    again = await stack.http.get("/ui/")
    assert ">web</a>" in again.text
    assert ">api</a>" not in again.text
    cleared = await stack.http.get("/ui/", params={"products": "", "environments": ""})
    assert ">api</a>" in cleared.text


@pytest.mark.databases("sqlite")
async def test_versioners_client_links_redirect_to_the_dashboard(
    stack: Stack, ci: dict[str, str]
) -> None:
    sent = await stack.http.post(
        "/deployment-events/", json=deploy_body(status="completed"), headers=ci
    )
    deployment = sent.json()
    deployment_id, version_id = deployment["id"], deployment["version_id"]
    cases = {
        f"/manage/deployments?view={deployment_id}": f"/ui/deployments/{deployment_id}",
        f"/manage/versions?view={version_id}": f"/ui/versions/{version_id}",
        f"/manage/catalog?tab=versions&view={version_id}": f"/ui/versions/{version_id}",
    }
    for link, target in cases.items():
        response = await stack.http.get(link)
        assert response.status_code == 303, link
        assert response.headers["location"] == target
    await signed_in(stack)
    page = await stack.http.get(f"/ui/deployments/{deployment['id']}")
    assert page.status_code == 200
    assert "api 1.0.0" in page.text
    version = await stack.http.get(f"/ui/versions/{deployment['version_id']}")
    assert version.status_code == 200
    assert "production" in version.text


@pytest.mark.databases("sqlite")
async def test_a_missing_page_is_an_html_404(stack: Stack) -> None:
    await signed_in(stack)
    response = await stack.http.get(f"/ui/deployments/{uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.databases("sqlite")
async def test_an_unknown_dashboard_path_is_an_html_404(stack: Stack) -> None:
    response = await stack.http.get("/ui/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    api = await stack.http.get("/no-such-endpoint")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/json")


@pytest.mark.databases("sqlite")
async def test_the_sign_in_form_refuses_a_post_it_did_not_serve(stack: Stack) -> None:
    """Login CSRF: another site's page posting its owner's token to this form must not sign
    the visitor's browser in as that owner."""
    token = await stack.user("viewer")
    forged = [
        {"token": token},  # no CSRF token at all
        {"token": token, "csrf_token": "x" * 32},  # one the browser's cookie does not match
        {"token": token, "csrf_token": "é" * 32},  # not even ASCII
    ]
    for data in forged:
        response = await stack.http.post("/ui/login", data=data)
        assert response.status_code == 403, data
        assert 'role="alert"' in response.text
        assert "versioner_session" not in response.headers.get("set-cookie", "")
    assert (await stack.http.get("/ui/")).status_code == 303
    # The form it served (now with its cookie) signs in, once.
    assert (await sign_in(stack.http, token)).status_code == 303
    assert (await stack.http.get("/ui/")).status_code == 200
