"""An org's signing secret for a provider, from SSM Parameter Store through Powertools parameters.

One SecureString parameter per org and provider: ``{WEBHOOK_SECRETS_PATH}/{org}/{provider}``
(``/activitylog/webhooks/org_acme/stripe``; an org id holding ``:@+=``, which SSM cannot name,
under ``encoded/``: ``parameter_name``), the value the provider's dashboard shows
(Stripe's ``whsec_…``, Square's signature key, FedEx's security token). The receiver's role
may read only that path.

Each container caches a value for ``max_age`` (Powertools), and a parameter that does not
exist for ``MISSING_SECONDS``, so a flood at an unknown org does not become a flood of SSM
reads. A signature the cached secret does not verify makes it read the parameter again, at
most once per ``REFRESH_SECONDS``: a rotated secret is used at once, not minutes later.

``SigningSecrets("/activitylog/webhooks").get("org_acme", "stripe")`` answers that org's Stripe secret.

An org's key for a provider's own API (``ProviderKeys``: Stripe's restricted key, Square's access
token, for recovering missed webhooks, ``recovery``) is kept the same way under its own path,
``{PROVIDER_KEYS_PATH}/{org}/{provider}``, which only the recovery function may read.
"""

from __future__ import annotations

import re
import time
from typing import Optional

from activitylog.errors import Unavailable

SECRET_MAX_AGE = 300
MISSING_SECONDS = 10.0
REFRESH_SECONDS = 10.0


_SSM_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def parameter_name(path: str, org: str, provider: str) -> str:
    """The org's parameter: ``{path}/{org}/{provider}``; an org id with characters SSM cannot name
    (``:@+=``) one level deeper, escaped: ``{path}/encoded/{org, each byte outside [A-Za-z0-9.-] as _XX}/{provider}``.

    The depth keeps the two forms apart (no plain org's name has the extra level), and plain org ids
    keep the names their secrets were stored under.

    >>> parameter_name("/activitylog/webhooks", "org:acme", "stripe")
    '/activitylog/webhooks/encoded/org_3Aacme/stripe'
    """
    if _SSM_PLAIN.fullmatch(org):
        return f"{path.rstrip('/')}/{org}/{provider}"
    escaped = "".join(
        chr(byte) if chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in ".-") else f"_{byte:02X}"
        for byte in org.encode()
    )
    return f"{path.rstrip('/')}/encoded/{escaped}/{provider}"


class SigningSecrets:
    def __init__(self, path: str, max_age: int = SECRET_MAX_AGE) -> None:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        self.path, self.max_age = path, max_age
        self._ssm = SSMProvider()
        self._missing: dict[str, float] = {}  # name -> when it was found missing (monotonic)
        self._refreshed: dict[str, float] = {}

    def get(self, org: str, provider: str, refresh: bool = False) -> Optional[str]:
        """The secret, or None when the org has none for this provider.

        ``refresh`` reads it again unless it was read again in the last ``REFRESH_SECONDS``;
        raises ``Unavailable`` (503: the provider retries) when SSM cannot answer.
        """
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        name = parameter_name(self.path, org, provider)
        now = time.monotonic()
        if refresh:
            if now - self._refreshed.get(name, float("-inf")) < REFRESH_SECONDS:
                return None
            self._refreshed[name] = now
        elif now - self._missing.get(name, float("-inf")) < MISSING_SECONDS:
            return None
        try:
            value = self._ssm.get(name, max_age=self.max_age, decrypt=True, force_fetch=refresh)
        except GetParameterError as error:
            if "ParameterNotFound" in str(error):
                self._missing[name] = now
                return None
            raise Unavailable(
                "the webhook's signing secret could not be read; nothing was recorded, retry shortly", "org_id"
            ) from None
        self._missing.pop(name, None)
        return str(value)


# The orgs' keys for the providers' own APIs: the same SecureStrings and caching, under PROVIDER_KEYS_PATH.
ProviderKeys = SigningSecrets
