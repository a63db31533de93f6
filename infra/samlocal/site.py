"""A distribution's page, locally: the template's CloudFront distribution on the stack's own port.

In AWS, a ``AWS::CloudFront::Distribution`` serves the page from the bucket its default
behaviour targets (filled after each deploy from the folder the bucket's ``SyncedFrom``
metadata names) and sends the API's paths to the HttpApi, so the page calls the API on its
own origin. Here the local server is that origin: a GET no API route answers is a file of
that same folder, read per request so an edit shows on the next reload.

>>> site = Site.from_template(transformed_template, ROOT)
>>> site.answer("GET", "/").status
200
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote

from samlocal.dynamodb import SetupError
from samlocal.gateway import HttpResponse, json_response
from samlocal.template import resources

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml"}
# Hand-written: the headers CloudFront's Managed-SecurityHeadersPolicy adds (the template names it
# by id only), less Strict-Transport-Security, which means nothing over local http.
SECURITY_HEADERS = [("x-content-type-options", "nosniff"), ("x-frame-options", "SAMEORIGIN"),
                    ("referrer-policy", "strict-origin-when-cross-origin"), ("x-xss-protection", "1; mode=block")]


@dataclass
class Site:
    folder: Path  # what the bucket is filled from
    index: str = "index.html"  # the distribution's DefaultRootObject
    api_paths: tuple[str, ...] = ()  # the distribution's path patterns sent to the API, e.g. /activities*

    @classmethod
    def from_template(cls, template: dict, root: Path) -> Optional["Site"]:
        """The distribution whose default behaviour serves a bucket, or None when the template has none."""
        for name, distribution in resources(template, "AWS::CloudFront::Distribution").items():
            config = (distribution.get("Properties") or {}).get("DistributionConfig") or {}
            origins = {origin["Id"]: origin for origin in config.get("Origins", [])}
            bucket = _bucket_of(origins.get((config.get("DefaultCacheBehavior") or {}).get("TargetOriginId"), {}))
            if bucket is None:
                continue
            synced = (template["Resources"].get(bucket, {}).get("Metadata") or {}).get("SyncedFrom")
            if not synced:
                raise SetupError(f"{name} serves {bucket}, which names no SyncedFrom folder (Metadata) to fill it from")
            folder = (root / synced).resolve()
            if not folder.is_dir():
                raise SetupError(f"{bucket}'s SyncedFrom folder {synced} does not exist")
            api_paths = tuple(behaviour["PathPattern"] for behaviour in config.get("CacheBehaviors", [])
                              if _bucket_of(origins.get(behaviour.get("TargetOriginId"), {})) is None)
            return cls(folder, config.get("DefaultRootObject") or "index.html", api_paths)
        return None

    def answer(self, method: str, target: str) -> HttpResponse:
        """A GET or HEAD of one file of the folder; anything else is what the bucket would refuse."""
        path = unquote(target.split("?", 1)[0])
        relative = path.lstrip("/") or self.index
        file = (self.folder / relative).resolve()
        if method not in ("GET", "HEAD") or not file.is_relative_to(self.folder) or not file.is_file():
            return json_response(404, {"message": f"no page file {path}"})
        kind = TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/json":
            kind += "; charset=utf-8"
        headers = [("content-type", kind), ("cache-control", "no-cache"), *SECURITY_HEADERS]
        return HttpResponse(200, headers, b"" if method == "HEAD" else file.read_bytes())


def _bucket_of(origin: dict[str, Any]) -> Optional[str]:
    """The bucket's logical id when an origin is ``!GetAtt Bucket.RegionalDomainName`` (or DomainName)."""
    domain = origin.get("DomainName")
    if isinstance(domain, dict) and "Fn::GetAtt" in domain:
        logical_id, attribute = domain["Fn::GetAtt"] if isinstance(domain["Fn::GetAtt"], list) else domain["Fn::GetAtt"].split(".", 1)
        if attribute in ("RegionalDomainName", "DomainName"):
            return logical_id
    return None
