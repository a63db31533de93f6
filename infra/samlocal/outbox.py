"""Everything sent through SES (moto) lands in a folder as .eml files.

The export flow ends in an email with a link; locally that email is a file you can
open (``.local/outbox/*.eml``) and a list at ``GET /_local/outbox``.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import threading
from email.message import EmailMessage
from pathlib import Path

from samlocal.intrinsics import ACCOUNT, REGION

_TAIL = r"(?P<key>[^\s?\"'<>]+)(?:\?[^\s\"'<>]*)?"
S3_LINKS = [
    re.compile(r"https://(?P<bucket>[a-z0-9][a-z0-9.-]+?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/" + _TAIL),  # virtual host
    re.compile(r"https://s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/(?P<bucket>[a-z0-9][a-z0-9.-]+)/" + _TAIL),  # path style
]
URL = re.compile(r"https?://[^\s\"'<>]+")  # any link, up to a space, a quote or a tag


def local_twin(url: str, base_url: str = "") -> "str | None":
    """The local server's address of an S3 URL (``/_local/s3/{bucket}/{key}``), or None for any other URL."""
    for pattern in S3_LINKS:
        match = pattern.match(url)
        if match:
            return f"{base_url}/_local/s3/{match.group('bucket')}/{match.group('key')}"
    return None


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def sync(self, base_url: str = "") -> list[dict]:
        """Write messages moto's SES has accepted since the last call; list the outbox."""
        from moto.ses.models import ses_backends

        with self._lock:
            backend = ses_backends[ACCOUNT][REGION]
            for message in list(backend.sent_messages):
                message_id = getattr(message, "id", None)
                if not message_id or message_id in self._written:
                    continue
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"{_safe(message_id)}.eml"
                path.write_bytes(_as_eml(message))
                self._written.add(message_id)
            return self.list(base_url)

    def list(self, base_url: str = "") -> list[dict]:
        """Newest first, each with its links decoded (``links_in``); an S3 link gets a local twin
        under ``/_local/s3/`` so it opens on this machine."""
        if not self.folder.exists():
            return []
        import email
        from email import policy

        items = []
        for path in sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            links = [{"url": url, "local": local_twin(url, base_url)} for url in links_in(parsed)]
            items.append({"file": path.name, "path": str(path), "from": parsed.get("From"), "to": parsed.get("To"),
                          "subject": parsed.get("Subject"), "date": parsed.get("Date"), "links": links})
        return items


def links_in(message) -> list[str]:
    """Every http(s) link of a message, once, in order: its parts decoded (quoted-printable, base64), an HTML
    part unescaped (an href's ``&amp;`` is ``&``), so a link copied from the list opens as sent."""
    found: dict[str, None] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            text = (html.unescape if part.get_content_subtype() == "html" else str)(part.get_content())
            found.update((url.rstrip(".,;)"), None) for url in URL.findall(text))
    return list(found)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _as_eml(message) -> bytes:
    raw = getattr(message, "raw_data", None)
    if raw is not None:  # SendRawEmail: already a MIME document
        return raw.encode() if isinstance(raw, str) else raw
    mail = EmailMessage()
    mail["Message-ID"] = f"<{message.id}@local.ses>"
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["From"] = message.source
    destinations = getattr(message, "destinations", {}) or {}
    if isinstance(destinations, dict):
        for header, key in (("To", "ToAddresses"), ("Cc", "CcAddresses")):
            if destinations.get(key):
                mail[header] = ", ".join(destinations[key])
    if hasattr(message, "template"):  # SendTemplatedEmail: keep what was asked for
        mail["Subject"] = f"[template {message.template}]"
        mail.set_content(json.dumps({"template": message.template, "data": message.template_data}, indent=2))
        return bytes(mail)
    mail["Subject"] = message.subject or ""
    body = message.body or ""
    if body.lstrip().startswith("<"):
        mail.set_content(re.sub(r"<[^>]+>", "", body))
        mail.add_alternative(body, subtype="html")
    else:
        mail.set_content(body)
    return bytes(mail)
