"""Dashboard sessions: a cookie that is signed and encrypted, and the CSRF token inside it.

The cookie holds the user's token (so every page is authorized exactly as the API would
authorize that token, and a revoked token ends the session within the credential cache's
TTL), a CSRF token, and when it was issued. Fernet seals it (AES and HMAC) under a key
derived from `VERSIONER_SESSION_SECRET`, or from a random secret per process when unset
(sessions then end when ingest restarts, and replicas cannot share them).
"""

import base64
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "versioner_session"
# A session lasts a working week; signing in again is one paste of a token.
MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Session:
    """A signed-in browser."""

    token: str
    csrf: str
    issued_at: int

    def csrf_ok(self, sent: str | None) -> bool:
        """Whether a form or header carried this session's CSRF token."""
        return sent is not None and hmac.compare_digest(sent, self.csrf)


class SessionCodec:
    """Seals sessions into cookie values and opens them again."""

    def __init__(self, secret: str | None) -> None:
        material = (secret or secrets.token_urlsafe(32)).encode()
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"versioner dashboard sessions"
        ).derive(material)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def new(self, token: str) -> tuple[Session, str]:
        """A fresh session for a token, and its cookie value."""
        session = Session(token=token, csrf=secrets.token_urlsafe(24), issued_at=int(time.time()))
        body = json.dumps({"t": session.token, "c": session.csrf, "i": session.issued_at})
        return session, self._fernet.encrypt(body.encode()).decode()

    def open(self, value: str | None) -> Session | None:
        """The session a cookie carries; None when absent, forged or expired."""
        if not value:
            return None
        try:
            raw = self._fernet.decrypt(value.encode(), ttl=MAX_AGE_S)
            body = json.loads(raw)
            return Session(token=str(body["t"]), csrf=str(body["c"]), issued_at=int(body["i"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
