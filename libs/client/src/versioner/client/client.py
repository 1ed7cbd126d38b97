"""`VersionerClient`: the typed, retrying HTTP client every CLI command goes through."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import httpx

from versioner.client.errors import ApiError, NetworkError
from versioner.client.governance_client import GovernanceCalls, segment
from versioner.client.insights_client import InsightsCalls
from versioner.client.models import (
    ApiKey,
    BuildRecord,
    CreatedApiKey,
    DeploymentRecord,
    Environment,
    EventStatus,
    InvitedUser,
    Product,
    State,
    Token,
    Tracked,
    User,
)

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0)


def client_version() -> str:
    """The installed version of this package."""
    try:
        return version("versioner-client")
    except PackageNotFoundError:
        return "0.0.0"


def _mask(value: str) -> str:
    return "Bearer ****" + value[-4:] if len(value) > 20 else "Bearer ****"


class VersionerClient(GovernanceCalls, InsightsCalls):
    """Speaks Versioner's HTTP API; retries network errors, 5xx and 429 with a backoff."""

    def __init__(
        self,
        api_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        debug: Callable[[str], None] | None = None,
    ) -> None:
        headers = {
            "User-Agent": f"versioner-cli/{client_version()}",
            "Accept": "application/json",
        }
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._debug = debug
        self._http = httpx.Client(
            base_url=api_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> VersionerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _log_request(self, request: httpx.Request) -> None:
        if self._debug is None:
            return
        self._debug(f"→ {request.method} {request.url}")
        for name, value in request.headers.items():
            shown = _mask(value) if name.lower() == "authorization" else value
            self._debug(f"→ {name}: {shown}")
        if request.content:
            self._debug(f"→ {request.content.decode('utf-8', 'replace')}")

    def _log_response(self, response: httpx.Response) -> None:
        if self._debug is not None:
            self._debug(f"← {response.status_code} {response.reason_phrase}")
            if response.content:
                self._debug(f"← {response.text}")

    def _send(self, request: httpx.Request) -> httpx.Response:
        attempts = len(self._retry_delays) + 1
        failure: httpx.TransportError | httpx.Response | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(self._retry_delays[attempt - 1])
            self._log_request(request)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                if self._debug is not None:
                    self._debug(f"← {type(exc).__name__}: {exc}")
                failure = exc
                continue
            self._log_response(response)
            if response.status_code != 429 and response.status_code < 500:
                return response
            failure = response
        if isinstance(failure, httpx.Response):
            return failure
        raise NetworkError(f"cannot reach {request.url} after {attempts} attempts: {failure}")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, object] | None = None,
        params: Mapping[str, str | int | None] | None = None,
    ) -> httpx.Response:
        """Send one request (retrying per policy); raise `ApiError` on a non-2xx answer."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method, path.lstrip("/"), params=query, content=content, headers=headers
        )
        response = self._send(request)
        if response.is_success:
            return response
        raise ApiError(response.status_code, _body(response), dict(response.headers))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return _body(self.request(method, path, **kwargs))

    def _track(self, path: str, payload: Mapping[str, object]) -> Tracked[Any]:
        response = self.request("POST", path, body=payload)
        data = _body(response)
        if not isinstance(data, dict):
            data = {}
        if response.status_code == 202:
            return Tracked(event_id=str(data.get("event_id") or data.get("id")), record=None)
        return Tracked(event_id=str(data.get("id")), record=data)

    def track_build(self, payload: Mapping[str, object]) -> Tracked[BuildRecord]:
        """`POST /build-events/` (see `models.BuildEvent` for the body)."""
        return cast("Tracked[BuildRecord]", self._track("build-events/", payload))

    def track_deployment(self, payload: Mapping[str, object]) -> Tracked[DeploymentRecord]:
        """`POST /deployment-events/` (see `models.DeploymentEvent` for the body)."""
        return cast("Tracked[DeploymentRecord]", self._track("deployment-events/", payload))

    def get_event(self, event_id: str) -> EventStatus:
        """What became of an event accepted with a 202."""
        return cast("EventStatus", self._json("GET", f"events/{segment(event_id)}"))

    def state(self, products: Sequence[str] = (), environments: Sequence[str] = ()) -> State:
        """The product-by-environment matrix, optionally narrowed by name."""
        params = {
            "products": ",".join(products) or None,
            "environments": ",".join(environments) or None,
        }
        return cast("State", self._json("GET", "state/", params=params))

    def list_products(self, limit: int | None = None) -> list[Product]:
        """Every product, newest first."""
        return cast("list[Product]", self._json("GET", "products/", params={"limit": limit}))

    def rename_product(self, product_id: str, name: str) -> Product:
        """Give a product a new name (the old one stays reserved to it)."""
        path = f"products/{segment(product_id)}"
        return cast("Product", self._json("PATCH", path, body={"name": name}))

    def list_environments(self, limit: int | None = None) -> list[Environment]:
        """Every environment."""
        params = {"limit": limit}
        return cast("list[Environment]", self._json("GET", "environments/", params=params))

    def rename_environment(self, environment_id: str, name: str) -> Environment:
        """Give an environment a new name (the old one stays reserved to it)."""
        path = f"environments/{segment(environment_id)}"
        return cast("Environment", self._json("PATCH", path, body={"name": name}))

    def list_deployments(
        self,
        product: str | None = None,
        environment: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[DeploymentRecord]:
        """Deployments, newest first, filtered by product, environment and status."""
        params: dict[str, str | int | None] = {
            "product": product,
            "environment": environment,
            "status": status,
            "limit": limit,
        }
        return cast("list[DeploymentRecord]", self._json("GET", "deployments/", params=params))

    def abort_deployment(self, deployment_id: str) -> DeploymentRecord:
        """Close a started deployment as aborted so it stops blocking."""
        path = f"deployments/{segment(deployment_id)}/abort"
        return cast("DeploymentRecord", self._json("POST", path, body={}))

    def create_user(
        self, name: str, email: str, role: str, slack_user_id: str | None = None
    ) -> InvitedUser:
        """Create a user (admin); the answer carries a one-use invite token."""
        body = {"name": name, "email": email, "role": role, "slack_user_id": slack_user_id}
        return cast("InvitedUser", self._json("POST", "users/", body=body))

    def list_users(self) -> list[User]:
        """Every user."""
        return cast("list[User]", self._json("GET", "users/"))

    def me(self) -> User:
        """The user the token belongs to."""
        return cast("User", self._json("GET", "users/me"))

    def update_user(
        self,
        user_id: str,
        *,
        role: str | None = None,
        email: str | None = None,
        slack_user_id: str | None = None,
        active: bool | None = None,
    ) -> User:
        """Change a user's role, email, Slack id or active flag (only the given ones)."""
        fields = {"role": role, "email": email, "slack_user_id": slack_user_id, "active": active}
        body = {k: v for k, v in fields.items() if v is not None}
        return cast("User", self._json("PATCH", f"users/{segment(user_id)}", body=body))

    def redeem_invite(self, invite_token: str) -> Token:
        """Trade an invite token for the user's personal token (no auth needed)."""
        body = {"invite_token": invite_token}
        return cast("Token", self._json("POST", "users/redeem", body=body))

    def rotate_token(self) -> Token:
        """Replace the caller's personal token; the old one stops working."""
        return cast("Token", self._json("POST", "users/me/token", body={}))

    def create_api_key(self, name: str) -> CreatedApiKey:
        """Create an API key; its secret is in this answer only."""
        return cast("CreatedApiKey", self._json("POST", "api-keys/", body={"name": name}))

    def list_api_keys(self) -> list[ApiKey]:
        """Every API key, without secrets."""
        return cast("list[ApiKey]", self._json("GET", "api-keys/"))

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key for good."""
        self.request("DELETE", f"api-keys/{segment(key_id)}")


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
