"""Bearer tokens with roles: who may call what.

Tokens come from a file (``--tokens FILE``: one ``TOKEN ROLE`` pair a line, ``#`` comments)
and from ``CXPLAY_TOKENS`` (``TOKEN:ROLE`` pairs separated by commas). Two roles:

* ``agent``: suggest, explain, outcomes, feedback, the playbook list;
* ``admin``: everything an agent may, plus validate and reload.

No ``Authorization: Bearer ...`` header, or an unknown token, is 401; a known token
without the role is 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cxplay._common.files import read_bytes
from cxplay._common.text import did_you_mean, echo
from cxplay.errors import CxplayError

__all__ = ["ROLES", "AuthError", "Role", "Tokens", "load_tokens"]

Role = Literal["agent", "admin"]
ROLES: tuple[Role, ...] = ("agent", "admin")
_GRANTS: Mapping[Role, frozenset[Role]] = {
    "agent": frozenset({"agent"}),
    "admin": frozenset({"agent", "admin"}),
}
#: A token is at least 16 characters from the URL-safe base64 alphabet (``secrets.token_urlsafe``).
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/=]{16,512}\Z")


class AuthError(Exception):
    """A request without the right token: ``status`` is 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Tokens:
    """The tokens a service accepts, each with its role."""

    roles: Mapping[str, Role] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.roles)

    def check(self, authorization: str | None, needed: Role) -> Role:
        """The caller's role, if it grants ``needed``; else :class:`AuthError`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "a bearer token is required (Authorization: Bearer TOKEN)")
        given = token.strip().encode("utf-8", "surrogateescape")
        role: Role | None = None
        for known, known_role in self.roles.items():  # every one: no early exit to time
            if hmac.compare_digest(given, known.encode("utf-8")):
                role = known_role
        if role is None:
            raise AuthError(401, "unknown token")
        if needed not in _GRANTS[role]:
            raise AuthError(403, f"this needs the {needed} role; the token has {role}")
        return role


def _pair(token: str, role: str, where: str) -> tuple[str, Role]:
    if not _TOKEN.match(token):
        raise CxplayError(
            f"{where}: a token must be 16 to 512 characters of A-Z a-z 0-9 _ - . ~ + / = "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if role not in ROLES:
        raise CxplayError(
            f"{where}: unknown role {echo(role)}{did_you_mean(role, ROLES)} (roles: agent, admin)"
        )
    return token, role


def load_tokens(file: Path | None = None, env: str | None = None) -> Tokens:
    """Tokens from a file and from the value of ``CXPLAY_TOKENS``; errors name the line."""
    roles: dict[str, Role] = {}
    if file is not None:
        raw = read_bytes(
            file, what="token file", fail=lambda reason: CxplayError(f"{file}: {reason}")
        )
        text = raw.decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 2:
                raise CxplayError(f"{file}:{number}: expected 'TOKEN ROLE'")
            token, role = _pair(words[0], words[1], f"{file}:{number}")
            roles[token] = role
    for number, item in enumerate((env or "").split(","), 1):
        if not item.strip():
            continue
        token, sep, role_text = item.strip().rpartition(":")
        if not sep:
            raise CxplayError(f"CXPLAY_TOKENS: item {number}: expected TOKEN:ROLE")
        token, role = _pair(token, role_text, f"CXPLAY_TOKENS: item {number}")
        roles[token] = role
    return Tokens(roles)
