"""Users, invites, personal tokens, API keys, and who a bearer token stands for."""

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.support.policy import (
    BOOTSTRAP_TOKEN,
    CI,
    Policy,
    audit_entries,
    is_postgres,
    outbox,
    policy_settings,
    race,
    refused,
    result,
    rows,
)
from versioner.common.messages.actor import SYSTEM, Actor
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import (
    Authenticate,
    Authenticated,
    CreateApiKey,
    CreateUser,
    GetUser,
    ListApiKeys,
    ListUsers,
    RedeemInvite,
    RevokeApiKey,
    RotateToken,
    UpdateUser,
)
from versioner.common.resources import (
    ApiKeyCreated,
    ApiKeyPublic,
    Page,
    TokenIssued,
    UserInvited,
    UserPublic,
)
from versioner.common.roles import Role
from versioner.policy.accounts import service as accounts
from versioner.policy.context import PolicyContext
from versioner.policy.store.db import Database
from versioner.policy.store.tables import Credential, User

API_KEY_FORMAT = re.compile(r"^sk_local_[a-z0-9]{8}_[A-Za-z0-9]{40}$")


async def _authenticate(policy: Policy, token: str) -> Authenticated:
    return result(await policy.ask(Authenticate(actor=SYSTEM, token=token)), Authenticated)


async def _refused(policy: Policy, token: str) -> None:
    refused(await policy.ask(Authenticate(actor=SYSTEM, token=token)), 401)


async def _admin(policy: Policy) -> Actor:
    """The first admin, made by the bootstrap token."""
    return (await _authenticate(policy, BOOTSTRAP_TOKEN)).actor


async def _invite(policy: Policy, admin: Actor, role: Role, **extra: Any) -> UserInvited:
    request = CreateUser.model_validate(
        {"actor": admin, "name": f"{role}-user", "role": role, **extra}
    )
    return result(await policy.ask(request), UserInvited)


async def _user(policy: Policy, admin: Actor, role: Role, **extra: Any) -> tuple[Actor, str]:
    """A user with a redeemed invite: who they are and their token."""
    invited = await _invite(policy, admin, role, **extra)
    token = result(
        await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)),
        TokenIssued,
    ).token
    return (await _authenticate(policy, token)).actor, token


def _broadcasts(rows_: list[Any]) -> list[CredentialsChanged]:
    return [CredentialsChanged.model_validate_json(row.body) for row in rows_]


# --- bootstrap -----------------------------------------------------------------------------


async def test_the_bootstrap_token_creates_the_first_admin(policy: Policy) -> None:
    admin = await _admin(policy)
    assert (admin.kind, admin.name, admin.role) == ("user", "admin", Role.ADMIN)
    [user] = await rows(policy.ctx, User)
    assert (user.id, user.role, user.active) == (admin.id, "admin", True)
    assert len(await audit_entries(policy.ctx, "user.bootstrapped")) == 1


async def test_the_bootstrap_token_becomes_the_admins_own_token(policy: Policy) -> None:
    first = await _authenticate(policy, BOOTSTRAP_TOKEN)
    again = await _authenticate(policy, BOOTSTRAP_TOKEN)
    assert again == first
    assert len(await rows(policy.ctx, User)) == 1
    [credential] = await rows(policy.ctx, Credential)
    assert credential.secret_hash != BOOTSTRAP_TOKEN
    assert credential.kind == "pat"


async def test_another_bootstrap_token_once_an_admin_exists_is_401(
    policy: Policy, database_url: str
) -> None:
    await _admin(policy)
    other_token = "pat_other_bootstrap_" + "o" * 32
    other = PolicyContext(
        settings=policy_settings(database_url, bootstrap_token=other_token),
        db=Database(database_url),
        clock=policy.clock,
    )
    try:
        refused(
            await accounts.authenticate(other, Authenticate(actor=SYSTEM, token=other_token)), 401
        )
    finally:
        await other.db.dispose()
    assert len(await rows(policy.ctx, User)) == 1


async def test_a_rotated_bootstrap_token_stops_working_and_makes_no_second_admin(
    policy: Policy,
) -> None:
    admin = await _admin(policy)
    new = result(await policy.ask(RotateToken(actor=admin)), TokenIssued).token
    await _refused(policy, BOOTSTRAP_TOKEN)
    assert (await _authenticate(policy, new)).actor == admin
    assert len(await rows(policy.ctx, User)) == 1


async def test_an_unknown_token_is_401(policy: Policy) -> None:
    await _refused(policy, "pat_" + "n" * 40)
    await _refused(policy, "sk_local_abcdefgh_" + "n" * 40)
    await _refused(policy, "garbage")
    assert await rows(policy.ctx, User) == []


async def test_two_first_uses_of_the_bootstrap_token_at_once_make_one_admin(
    policy: Policy, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if is_postgres(database_url):
        race(monkeypatch, accounts, "_active_admins")
    one, two = await asyncio.gather(
        accounts.authenticate(policy.ctx, Authenticate(actor=SYSTEM, token=BOOTSTRAP_TOKEN)),
        accounts.authenticate(policy.ctx, Authenticate(actor=SYSTEM, token=BOOTSTRAP_TOKEN)),
    )
    assert result(one, Authenticated).actor == result(two, Authenticated).actor
    assert len(await rows(policy.ctx, User)) == 1


# --- users and invites ---------------------------------------------------------------------


async def test_creating_a_user_gives_a_24_hour_invite(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.DEVELOPER, email="dev@example.com")
    assert (invited.name, invited.role, invited.email, invited.active) == (
        "developer-user",
        Role.DEVELOPER,
        "dev@example.com",
        True,
    )
    assert invited.invite_token.startswith("inv_")
    assert invited.invite_expires_at == policy.clock.now() + timedelta(hours=24)
    [entry] = await audit_entries(policy.ctx, "user.created")
    assert entry.subject_id == str(invited.id)


async def test_an_invite_is_redeemed_for_a_personal_token(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.SRE)
    issued = result(
        await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)),
        TokenIssued,
    )
    assert issued.token.startswith("pat_")
    actor = (await _authenticate(policy, issued.token)).actor
    assert (actor.kind, actor.id, actor.role) == ("user", invited.id, Role.SRE)


async def test_an_invite_is_redeemed_once(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.SRE)
    redeem = RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)
    result(await policy.ask(redeem), TokenIssued)
    refused(await policy.ask(redeem), 401)


async def test_an_invite_still_works_just_before_24_hours(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.QA)
    policy.clock.advance(hours=23, minutes=59)
    result(
        await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)),
        TokenIssued,
    )


async def test_an_invite_expires_after_24_hours(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.QA)
    policy.clock.advance(hours=24)
    refused(await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)), 401)


async def test_an_invite_is_no_bearer_token(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.QA)
    await _refused(policy, invited.invite_token)


async def test_rotating_revokes_the_old_token_and_broadcasts_it(policy: Policy) -> None:
    admin = await _admin(policy)
    user, token = await _user(policy, admin, Role.DEVELOPER)
    old = (await _authenticate(policy, token)).credential_id
    new = result(await policy.ask(RotateToken(actor=user)), TokenIssued).token
    await _refused(policy, token)
    assert (await _authenticate(policy, new)).actor == user
    broadcasts = _broadcasts(await outbox(policy.ctx, "credentials.changed"))
    assert CredentialsChanged(credential_ids=[old], actor_ids=[]) in broadcasts
    assert all(
        row.exchange == "credentials" for row in await outbox(policy.ctx, "credentials.changed")
    )


async def test_an_api_key_has_no_token_to_rotate(policy: Policy) -> None:
    refused(await policy.ask(RotateToken(actor=CI)), 403)


async def test_an_inactive_users_token_is_401(policy: Policy) -> None:
    admin = await _admin(policy)
    user, token = await _user(policy, admin, Role.DEVELOPER)
    assert user.id is not None
    result(await policy.ask(UpdateUser(actor=admin, user_id=user.id, active=False)), UserPublic)
    await _refused(policy, token)
    [broadcast] = _broadcasts(await outbox(policy.ctx, "credentials.changed"))
    assert broadcast.actor_ids == [user.id]


async def test_an_inactive_user_cannot_redeem_an_invite(policy: Policy) -> None:
    admin = await _admin(policy)
    invited = await _invite(policy, admin, Role.DEVELOPER)
    result(await policy.ask(UpdateUser(actor=admin, user_id=invited.id, active=False)), UserPublic)
    refused(await policy.ask(RedeemInvite(actor=SYSTEM, invite_token=invited.invite_token)), 401)


async def test_a_role_change_is_broadcast_and_audited(policy: Policy) -> None:
    admin = await _admin(policy)
    user, token = await _user(policy, admin, Role.DEVELOPER)
    assert user.id is not None
    updated = result(
        await policy.ask(UpdateUser(actor=admin, user_id=user.id, role=Role.SRE)), UserPublic
    )
    assert updated.role == Role.SRE
    assert (await _authenticate(policy, token)).actor.role == Role.SRE
    [broadcast] = _broadcasts(await outbox(policy.ctx, "credentials.changed"))
    assert broadcast.actor_ids == [user.id]
    [entry] = await audit_entries(policy.ctx, "user.updated")
    assert entry.data == {"changes": {"role": ["developer", "sre"]}}


async def test_an_email_change_is_not_broadcast(policy: Policy) -> None:
    admin = await _admin(policy)
    user, _ = await _user(policy, admin, Role.DEVELOPER)
    assert user.id is not None
    result(
        await policy.ask(UpdateUser(actor=admin, user_id=user.id, email="new@example.com")),
        UserPublic,
    )
    assert await outbox(policy.ctx, "credentials.changed") == []


async def test_changing_ones_own_role_is_403(policy: Policy) -> None:
    admin = await _admin(policy)
    # A second admin, so that the refusal cannot be the last-admin rule's.
    await _user(policy, admin, Role.ADMIN)
    assert admin.id is not None
    refused(await policy.ask(UpdateUser(actor=admin, user_id=admin.id, role=Role.VIEWER)), 403)
    assert (await _authenticate(policy, BOOTSTRAP_TOKEN)).actor.role == Role.ADMIN


async def test_deactivating_the_last_admin_is_409(policy: Policy) -> None:
    admin = await _admin(policy)
    assert admin.id is not None
    refused(await policy.ask(UpdateUser(actor=admin, user_id=admin.id, active=False)), 409)
    assert (await _authenticate(policy, BOOTSTRAP_TOKEN)).actor == admin


async def test_demoting_the_last_admin_is_409(policy: Policy) -> None:
    admin = await _admin(policy)
    assert admin.id is not None
    refused(await policy.ask(UpdateUser(actor=SYSTEM, user_id=admin.id, role=Role.SRE)), 409)


async def test_an_admin_may_be_demoted_while_another_remains(policy: Policy) -> None:
    admin = await _admin(policy)
    second, _ = await _user(policy, admin, Role.ADMIN)
    assert admin.id is not None
    demoted = result(
        await policy.ask(UpdateUser(actor=second, user_id=admin.id, role=Role.SRE)), UserPublic
    )
    assert demoted.role == Role.SRE


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    policy: Policy,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await _admin(policy)
    second, _ = await _user(policy, admin, Role.ADMIN)
    assert admin.id is not None
    assert second.id is not None
    if is_postgres(database_url):
        race(monkeypatch, accounts, "_active_admins")
    replies = await asyncio.gather(
        policy.ask(UpdateUser(actor=admin, user_id=second.id, role=Role.VIEWER)),
        policy.ask(UpdateUser(actor=second, user_id=admin.id, role=Role.VIEWER)),
    )
    admins = [u for u in await rows(policy.ctx, User) if u.role == "admin" and u.active]
    assert len(admins) == 1
    assert sorted(getattr(r, "status_code", 200) for r in replies) == [200, 409]


async def test_a_slack_user_id_maps_to_one_user(policy: Policy) -> None:
    admin = await _admin(policy)
    first = await _invite(policy, admin, Role.QA, slack_user_id="U123")
    assert first.slack_user_id == "U123"
    refused(
        await policy.ask(CreateUser(actor=admin, name="b", role=Role.QA, slack_user_id="U123")),
        409,
    )
    other = await _invite(policy, admin, Role.SRE)
    refused(await policy.ask(UpdateUser(actor=admin, user_id=other.id, slack_user_id="U123")), 409)
    same = result(
        await policy.ask(UpdateUser(actor=admin, user_id=first.id, slack_user_id="U123")),
        UserPublic,
    )
    assert same.slack_user_id == "U123"


async def test_two_users_created_at_once_with_one_slack_user_id(
    policy: Policy,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await _admin(policy)
    if is_postgres(database_url):
        race(monkeypatch, accounts, "_slack_taken")
    replies = await asyncio.gather(
        policy.ask(CreateUser(actor=admin, name="a", role=Role.QA, slack_user_id="U9")),
        policy.ask(CreateUser(actor=admin, name="b", role=Role.QA, slack_user_id="U9")),
        return_exceptions=True,
    )
    assert sorted(getattr(r, "status_code", 201) for r in replies) == [201, 409], replies


async def test_users_are_listed_by_admins_only(policy: Policy) -> None:
    admin = await _admin(policy)
    user, _ = await _user(policy, admin, Role.DEVELOPER)
    page = result(await policy.ask(ListUsers(actor=admin)), Page[UserPublic])
    assert {u.id for u in page.items} == {admin.id, user.id}
    refused(await policy.ask(ListUsers(actor=user)), 403)


async def test_a_user_reads_themself_but_not_others(policy: Policy) -> None:
    admin = await _admin(policy)
    user, _ = await _user(policy, admin, Role.DEVELOPER)
    assert user.id is not None
    assert admin.id is not None
    me = result(await policy.ask(GetUser(actor=user, user_id=user.id)), UserPublic)
    assert me.name == user.name
    refused(await policy.ask(GetUser(actor=user, user_id=admin.id)), 403)
    assert result(await policy.ask(GetUser(actor=admin, user_id=user.id)), UserPublic) == me


# --- API keys ------------------------------------------------------------------------------


async def test_an_api_key_has_the_documented_format(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    assert API_KEY_FORMAT.match(created.key), created.key
    assert created.name == "ci"


async def test_an_api_key_is_stored_only_hashed(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    secret = created.key.rsplit("_", 1)[1]
    for credential in await rows(policy.ctx, Credential):
        for value in credential.model_dump().values():
            assert secret not in str(value)
    [key] = [c for c in await rows(policy.ctx, Credential) if c.kind == "api_key"]
    assert key.secret_hash == accounts.hash_secret(created.key)
    assert created.key.startswith(key.prefix)


async def test_an_api_key_authenticates_as_itself(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    auth = await _authenticate(policy, created.key)
    assert (auth.actor.kind, auth.actor.id, auth.actor.name, auth.actor.role) == (
        "api_key",
        created.id,
        "ci",
        None,
    )
    assert auth.credential_id == created.id


async def test_last_used_is_kept_but_written_at_most_once_a_minute(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)

    async def last_used() -> object:
        page = result(await policy.ask(ListApiKeys(actor=admin)), Page[ApiKeyPublic])
        return page.items[0].last_used_at

    assert await last_used() is None
    first = policy.clock.now()
    await _authenticate(policy, created.key)
    assert await last_used() == first
    policy.clock.advance(seconds=59)
    await _authenticate(policy, created.key)
    assert await last_used() == first
    policy.clock.advance(seconds=2)
    await _authenticate(policy, created.key)
    assert await last_used() == policy.clock.now()


async def test_a_revoked_api_key_is_401_and_broadcast(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    await _authenticate(policy, created.key)
    revoked = result(await policy.ask(RevokeApiKey(actor=admin, key_id=created.id)), ApiKeyPublic)
    assert revoked.revoked_at == policy.clock.now()
    await _refused(policy, created.key)
    [broadcast] = _broadcasts(await outbox(policy.ctx, "credentials.changed"))
    assert broadcast.credential_ids == [created.id]
    assert len(await audit_entries(policy.ctx, "api_key.revoked")) == 1


async def test_revoking_a_key_twice_broadcasts_once(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    result(await policy.ask(RevokeApiKey(actor=admin, key_id=created.id)), ApiKeyPublic)
    result(await policy.ask(RevokeApiKey(actor=admin, key_id=created.id)), ApiKeyPublic)
    assert len(await outbox(policy.ctx, "credentials.changed")) == 1


async def test_revoking_something_that_is_no_api_key_is_404(policy: Policy) -> None:
    admin = await _admin(policy)
    personal = await _authenticate(policy, BOOTSTRAP_TOKEN)
    refused(await policy.ask(RevokeApiKey(actor=admin, key_id=personal.credential_id)), 404)
    assert (await _authenticate(policy, BOOTSTRAP_TOKEN)).actor == admin


async def test_api_keys_are_listed_without_secrets(policy: Policy) -> None:
    admin = await _admin(policy)
    created = result(await policy.ask(CreateApiKey(actor=admin, name="ci")), ApiKeyCreated)
    developer, _ = await _user(policy, admin, Role.DEVELOPER)
    page = result(await policy.ask(ListApiKeys(actor=developer)), Page[ApiKeyPublic])
    [key] = page.items
    assert (key.id, key.name, key.created_by) == (created.id, "ci", "user:admin")
    assert created.key not in key.model_dump_json()
    assert re.fullmatch(r"sk_local_[a-z0-9]{8}", key.prefix)
    refused(await policy.ask(CreateApiKey(actor=developer, name="mine")), 403)
