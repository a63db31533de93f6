"""Dev tokens and the JWT authorizer's checks, as API Gateway makes them.

The local dev key is an RSA key kept in a git-ignored folder (``.local/dev-jwt-key.pem``
for ``make dev``). Tokens are RS256 JWTs with the template's ``JwtIssuer`` and
``JwtAudience``; the authorizer refuses a token that is missing, badly signed (another
key: a "foreign" token), expired, or for another issuer or audience with 401, and a
token without one of the route's ``AuthorizationScopes`` with 403, before the function
runs.

>>> key = DevKey.load_or_create(Path(".local"))
>>> token = key.mint(org="org_demo", user="u_17", name="Riley Park", scopes=["read"])
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import jwt

KEY_FILE = "dev-jwt-key.pem"
KEY_ID = "activitylog-local"

# `--scope read|write|support|admin|retry` in the CLI: the OAuth scopes the routes ask for.
SCOPES = {"read": "activity:read", "write": "activity:write", "support": "activity:support", "admin": "activity:admin",
          "retry": "activity:retry"}


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def scope_names(scopes: Iterable[str]) -> list[str]:
    """``read``/``write``/``support``/``admin`` (or full ``activity:…`` names) as OAuth scope strings."""
    result = []
    for scope in scopes:
        for part in str(scope).replace(",", " ").split():
            full = SCOPES.get(part, part)
            if full not in SCOPES.values():
                raise ValueError(f"unknown scope {part!r}: use {', '.join(SCOPES)}")
            if full not in result:
                result.append(full)
    return result


@dataclass
class DevKey:
    private_pem: bytes

    @classmethod
    def load_or_create(cls, folder: Path) -> "DevKey":
        path = folder / KEY_FILE
        if path.exists():
            return cls(path.read_bytes())
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(pem)
        os.chmod(temporary, 0o600)
        temporary.replace(path)
        return cls(pem)

    @property
    def public_key(self):
        from cryptography.hazmat.primitives import serialization

        return serialization.load_pem_private_key(self.private_pem, password=None).public_key()

    def mint(
        self,
        *,
        org: str,
        user: str,
        issuer: str,
        audience: str,
        name: Optional[str] = None,
        email: Optional[str] = None,
        scopes: Iterable[str] = ("read",),
        ttl_seconds: int = 12 * 3600,
        now: Optional[float] = None,
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": user,
            "org_id": org,
            "scope": " ".join(scope_names(scopes)),
            "iat": issued,
            "exp": issued + ttl_seconds,
        }
        if name:
            claims["name"] = name
        if email:  # where a background export mails its link
            claims["email"] = email
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": KEY_ID})


@dataclass
class JwtAuthorizer:
    """An HTTP API JWT authorizer (``JwtConfiguration``: issuer and audiences)."""

    key: DevKey
    issuer: str
    audiences: list[str]

    def authorize(self, authorization: Optional[str], required_scopes: list[str]) -> dict:
        """The verified claims, or ``AuthError`` 401/403 as API Gateway would answer."""
        if not authorization:
            raise AuthError(401, "Unauthorized")
        token = authorization.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            claims = jwt.decode(
                token,
                self.key.public_key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
                leeway=0,
            )
        except jwt.PyJWTError as error:
            raise AuthError(401, "Unauthorized") from error
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if claims.get("client_id"):  # API Gateway also accepts client_id as the audience
            audiences.append(claims["client_id"])
        if not set(audiences) & set(self.audiences):
            raise AuthError(401, "Unauthorized")
        if required_scopes:
            granted = set(str(claims.get("scope") or claims.get("scp") or "").split())
            if not granted & set(required_scopes):
                raise AuthError(403, "Forbidden")
        return claims


def claims_as_strings(claims: dict) -> dict[str, str]:
    """API Gateway hands claims to the function as strings (lists as ``[a b]``)."""
    result = {}
    for name, value in claims.items():
        if isinstance(value, list):
            result[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            result[name] = "true" if value else "false"
        else:
            result[name] = str(value)
    return result
