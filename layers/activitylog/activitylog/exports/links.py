"""Download links: a signed token bound to one export, its org and its requester, that expires.

A link clicked from an email carries no bearer token, so the token in it is the proof: it
is an HMAC (``activitylog.signing``) over the export id (the link's path) and a payload
naming the org, the requester and the expiry. The download route believes the org and the
requester only from a token whose signature holds; any other token, or one for another
export, is a 404, and an expired one a 410 saying so.

>>> from activitylog.signing import StaticKey
>>> token = mint(StaticKey(b"k"), "01JDQ7Z9K3M5N7P9R1T3V5X7Z9", org="org_1", requester="u_17", seconds=7 * 86400)
>>> verify(StaticKey(b"k"), token, "01JDQ7Z9K3M5N7P9R1T3V5X7Z9").org
'org_1'
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from activitylog.errors import Gone, NotFound
from activitylog.signing import Key, seal, unseal

PURPOSE = "export-download"  # signed with the export id: a token opens no other kind of thing, and no other export
_WIRE = {"org": "o", "requester": "r", "expires": "x"}


@dataclass(frozen=True)
class Link:
    export_id: str
    org: str
    requester: str
    expires: int  # epoch seconds

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, timezone.utc)


def mint(key: Key, export_id: str, org: str, requester: str, seconds: int, now: Optional[float] = None) -> str:
    expires = int(time.time() if now is None else now) + seconds
    return seal(
        key, (PURPOSE, export_id), {_WIRE["org"]: org, _WIRE["requester"]: requester, _WIRE["expires"]: expires}
    )


def verify(key: Key, token: Optional[str], export_id: str, now: Optional[float] = None) -> Link:
    """The link a token grants for ``export_id``: ``NotFound`` unless it was minted for it, ``Gone`` once expired."""
    try:
        data = unseal(key, token or "", (PURPOSE, export_id))
        link = Link(export_id, str(data[_WIRE["org"]]), str(data[_WIRE["requester"]]), int(data[_WIRE["expires"]]))
    except (ValueError, KeyError, TypeError):
        raise NotFound(f"no export {export_id} for this link", "token") from None
    if (time.time() if now is None else now) > link.expires:
        raise Gone(
            f"this link expired at {link.expires_at.isoformat(timespec='seconds')}; "
            "open the export from the Activity Logs page for a fresh one",
            "token",
        )
    return link
