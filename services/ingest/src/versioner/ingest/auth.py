"""Who is calling: bearer tokens verified by policy, cached here for at most a minute.

Ingest owns no database, so a verified credential is cached (by the SHA-256 of the token)
to spare policy a round trip per request. Policy broadcasts revocations, role changes and
deactivations, and the cache drops what they name at once; a broadcast that arrives while a
verification is in flight makes that answer uncacheable (the generation check). While
policy is silent, an uncached token gets a 503 straight away instead of a message that
would only wait in a queue.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TLRUCache
from pydantic import ValidationError

from versioner.common.errors import policy_unavailable, unauthenticated
from versioner.common.messages.actor import SYSTEM, Actor
from versioner.common.messages.broadcasts import CredentialsChanged
from versioner.common.messages.management import Authenticate, Authenticated
from versioner.ingest.gateway import FailureError, PolicyGateway

# Unknown tokens are remembered briefly, so a client retrying a bad key does not become a
# stream of RPCs; new tokens are random, so none can be known-bad before it exists.
NEGATIVE_TTL_S = 5.0
MAX_ENTRIES = 50_000
# Longer than any token or key Versioner issues: refused without asking policy.
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class _Entry:
    result: Authenticated | None


class CredentialCache:
    """Verified credentials by token hash, each for at most `ttl` seconds."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.generation = 0
        # A TLRU cache rather than a TTL one: an unknown token lives a shorter time than a
        # verified one. Past the bound, expired and then least recently used entries go first.
        self._entries: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=MAX_ENTRIES, ttu=self._expires, timer=self._now
        )

    def _now(self) -> float:
        # Read `clock` on each call: tests move time by replacing it.
        return self.clock()

    def _expires(self, _key: str, entry: _Entry, now: float) -> float:
        return now + (self.ttl if entry.result is not None else min(self.ttl, NEGATIVE_TTL_S))

    def get(self, key: str) -> _Entry | None:
        """The live entry for a token hash."""
        return self._entries.get(key)

    def put(self, key: str, result: Authenticated | None, generation: int) -> None:
        """Remember a verification made at `generation` (dropped if a broadcast came since)."""
        if generation != self.generation or self.ttl <= 0:
            return
        self._entries[key] = _Entry(result)

    def forget(self, change: CredentialsChanged) -> None:
        """Drop every entry a broadcast names."""
        self.generation += 1
        credentials = set(change.credential_ids)
        actors = set(change.actor_ids)
        for key, entry in list(self._entries.items()):
            result = entry.result
            if result is None or result.credential_id in credentials or result.actor.id in actors:
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (the broadcast channel was interrupted)."""
        self.generation += 1
        self._entries.clear()

    def on_broadcast(self, body: bytes) -> None:
        """Apply a `CredentialsChanged` message as it came off the broker."""
        try:
            change = CredentialsChanged.model_validate_json(body)
        except ValidationError:
            return
        self.forget(change)


class Authenticator:
    """Turns a bearer token into an `Actor`, or a 401 / 503."""

    def __init__(self, gateway: PolicyGateway, cache: CredentialCache) -> None:
        self.gateway = gateway
        self.cache = cache

    async def actor(self, token: str) -> Actor:
        """The caller behind a token."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise FailureError(unauthenticated())
        key = hashlib.sha256(token.encode()).hexdigest()
        if (entry := self.cache.get(key)) is not None:
            if entry.result is None:
                raise FailureError(unauthenticated())
            return entry.result.actor
        if self.gateway.health.down:
            raise FailureError(policy_unavailable())
        generation = self.cache.generation
        try:
            result = await self.gateway.ask(Authenticate(actor=SYSTEM, token=token))
        except FailureError as error:
            if error.failure.status_code == 401:
                self.cache.put(key, None, generation)
            raise
        self.cache.put(key, result, generation)
        return result.actor
