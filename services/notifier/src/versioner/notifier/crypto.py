"""Secrets at rest: sealed with a key derived from `VERSIONER_SECRET_KEY`.

Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under a key derived by HKDF, so any
string of enough entropy works as the setting. A changed setting makes stored secrets
unreadable: `open` raises `SecretUnreadable` and the channel's deliveries fail saying so.
"""

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"versioner notifier secrets v1"


class SecretUnreadable(Exception):  # noqa: N818 - reads as what happened
    """A sealed value that this key cannot open (the secret key changed?)."""


class Sealer:
    """Seals and opens JSON values with one key."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("VERSIONER_SECRET_KEY must be at least 16 characters")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: dict[str, Any]) -> str:
        """The value, encrypted and authenticated, as text."""
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """The value sealed earlier."""
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise SecretUnreadable(
                "a stored secret cannot be read with this VERSIONER_SECRET_KEY"
            ) from exc
        return opened
