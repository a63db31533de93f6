"""Where a stream delivers: an HTTPS endpoint (Standard Webhooks), a customer's S3 bucket, Splunk HEC, Datadog logs.

Each kind takes events already rendered (``activitylog.streams.formats``), in order, and sends them as one or more
requests within the kind's documented limits; ``send`` answers an ``Outcome`` and never raises for what the
receiver did. Secrets (a signing secret, an HEC token, an API key) are arguments, never config, and never in an
outcome's detail. Every HTTP kind checks its URL's address again before each send and connects to the address
it checked (``activitylog.streams.address``); redirects are not followed (a 3xx could point anywhere).

>>> check_config("splunk", {"url": "https://hec.example.com:8088", "index": "audit"},
...              resolve=lambda host, port, **kw: [(2, 1, 6, "", ("93.184.215.14", port))])
{'url': 'https://hec.example.com:8088/services/collector/event', 'index': 'audit', 'sourcetype': 'activitylog'}
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import urllib3
from standardwebhooks import Webhook

from activitylog.errors import BadRequest
from activitylog.streams.address import Resolve, Target, check_form, check_url, target

KINDS = ("https", "s3", "splunk", "datadog")

TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)
DETAIL_CHARS = 500
ANSWER_BYTES = 4 * DETAIL_CHARS  # what is read of a receiver's answer: enough for 500 characters of UTF-8
USER_AGENT = "activitylog-streams/1"

# Datadog's logs intake (https://docs.datadoghq.com/api/latest/logs/#send-logs): 5 MB per request uncompressed,
# 1 MB per log, 1,000 logs per array. A log over 1 MB would be truncated by Datadog: it is not sent at all.
DATADOG_REQUEST_BYTES = 5_000_000
DATADOG_LOG_BYTES = 1_000_000
DATADOG_LOGS_PER_REQUEST = 1_000
DATADOG_SITES = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
)
# Splunk HEC's request limit: Splunk Cloud's max_content_length (1 MB), the smallest a customer may have.
SPLUNK_REQUEST_BYTES = 1_000_000
SPLUNK_PATH = "/services/collector/event"


@dataclass(frozen=True)
class Outcome:
    """What one ``send`` came to.

    ``sent`` counts the events accepted; requests go in order and stop at the first that fails, so the events
    accepted are the first ones of the list (less any ``undeliverable``). ``undeliverable`` names the events
    the kind's limits refuse as they are (a Datadog log over 1 MB): sending them again will not help."""

    ok: bool
    status: int | None  # the receiver's HTTP status (None: no answer: refused, timeout, DNS)
    detail: str  # what the receiver said (truncated to 500 chars) or why it failed
    sent: int = 0  # events accepted
    undeliverable: tuple[str, ...] = field(default=())  # event ids over the kind's per-event limit, not sent


def check_config(
    kind: str, config: dict, *, allow_loopback: bool = False, resolve: Resolve = socket.getaddrinfo
) -> dict:
    """The destination's settings normalised; BadRequest naming the field (`destination.url`,
    `destination.bucket`, `destination.role_arn`, `destination.site`, ...) for anything wrong. No secrets in config.

    https: ``url``. splunk: ``url`` (the HEC base URL; ``/services/collector/event`` is added), ``index``,
    ``sourcetype``, ``source``. datadog: ``site`` (one of ``DATADOG_SITES``) or ``url`` (an intake of the same
    API, e.g. an Observability Pipelines worker), ``service``, ``tags``. s3: ``bucket``, ``role_arn``,
    ``external_id``, ``prefix``, ``region``."""
    return _settings(kind, config, allow_loopback, resolve)


def _settings(kind: str, config: dict, allow_loopback: bool, resolve: Resolve | None) -> dict:
    """``check_config``'s work; with ``resolve`` None the URL's form only (its addresses are checked at send)."""
    if kind not in KINDS:
        raise BadRequest(f"destination.kind must be one of {', '.join(KINDS)}", "destination.kind")
    if not isinstance(config, dict):
        raise BadRequest("destination must be an object", "destination")
    checker = _CHECKS[kind]
    allowed = checker.fields
    unknown = sorted(set(config) - set(allowed) - {"kind"})
    if unknown:
        secretish = [k for k in unknown if re.search(r"secret|token|key|password", k, re.I)]
        why = "secrets go in the stream's secret field, never in its settings" if secretish else "unknown field"
        raise BadRequest(f"destination.{unknown[0]}: {why}", f"destination.{unknown[0]}")
    return checker.check(config, allow_loopback, resolve)


def destination(
    kind: str,
    config: dict,
    secret: str | None,
    *,
    allow_loopback: bool = False,
    resolve: Resolve = socket.getaddrinfo,
    session: Any = None,
) -> Destination:
    """`secret`: the signing secret (https, `whsec_...`), the HEC token (splunk), the API key (datadog); None for s3.
    `session`: a boto3 Session for s3 (tests: moto)."""
    # The URL's addresses are not looked up here but before each send, whose outcome then says why it was
    # refused: a name that turned private since the stream was saved is a failed delivery, not an exception.
    settings = _settings(kind, config, allow_loopback, None)
    if kind == "s3":
        return BucketDestination(settings, session=session)
    check_secret(kind, secret)
    http_kind = {"https": WebhookDestination, "splunk": SplunkDestination, "datadog": DatadogDestination}[kind]
    return http_kind(settings, secret or "", allow_loopback=allow_loopback, resolve=resolve)


def check_secret(kind: str, secret: str | None) -> None:
    """BadRequest (field ``secret``, never echoing the value) for a secret the kind cannot use: https takes a
    Standard Webhooks secret, ``whsec_`` + base64 of 24 to 64 random bytes; splunk and datadog a token that can
    travel in a header (printable ASCII, no spaces: a newline in it would be refused by http.client with the
    value in the error, and so in a log); s3 none (the customer's role is assumed instead)."""
    if kind == "s3":
        return
    if not secret:
        raise BadRequest(f"the {kind} destination needs its secret", "secret")
    if kind == "https":
        try:
            encoded = secret.removeprefix("whsec_")
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)  # padding is optional
        except ValueError:  # binascii.Error
            raw = b""
        if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
            raise BadRequest("the signing secret must be whsec_ and the base64 of 24 to 64 bytes", "secret")
    elif not re.fullmatch(r"[\x21-\x7e]{8,512}", secret):
        raise BadRequest(f"the {kind} secret must be 8 to 512 printable characters without spaces", "secret")


class Destination:
    """One stream's destination, ready to send."""

    kind = ""

    def send(self, events: list[dict]) -> Outcome:
        """Deliver `events` (already rendered, in order) as one or more requests within the kind's limits
        (Datadog 5 MB per request, 1 MB per log, 1,000 per array; HEC batched JSON events with
        `Authorization: Splunk <token>`; https: one Standard Webhooks-signed POST whose body is a JSON array,
        `webhook-id` = a stable id of the batch; s3: one gzip NDJSON object under
        `{prefix}/dt=YYYY-MM-DD/...` assumed through the customer's role with an external id).
        Re-checks the URL's address before each connection (DNS can change). ok only if every event was accepted.
        Timeouts: 5 s connect, 10 s read."""
        raise NotImplementedError


# --- the HTTP kinds -------------------------------------------------------------------------------------------


class _HttpDestination(Destination):
    """POSTs to a checked address: the URL is checked again before each request and the connection goes to
    the address checked, with the URL's host as TLS server name, certificate name and Host header."""

    def __init__(self, url: str, secret: str, *, allow_loopback: bool, resolve: Resolve) -> None:
        self.url = url
        self._secret = secret
        self._allow_loopback = allow_loopback
        self._resolve = resolve
        self._pools: dict[tuple[str, str, str, int], urllib3.HTTPConnectionPool] = {}

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
        """The receiver's status and answer (status None: no answer, the detail says why)."""
        try:
            checked = target(self.url, allow_loopback=self._allow_loopback, resolve=self._resolve)
        except BadRequest as refused:
            return None, f"refused before connecting: {refused.message}"
        errors = []
        for address in checked.addresses:
            pool = self._pool(checked, address)
            try:
                response = pool.urlopen(
                    "POST",
                    checked.path,
                    body=body,
                    headers={**headers, "Host": checked.host_header, "User-Agent": USER_AGENT},
                    retries=False,
                    redirect=False,
                    timeout=TIMEOUT,
                    preload_content=False,
                )
            except urllib3.exceptions.NewConnectionError as exc:
                # Nothing was sent to this address: the next address of the same name may answer.
                errors.append(f"{address}: {_reason(exc)}")
                continue
            except urllib3.exceptions.HTTPError as exc:
                return None, self._scrub(f"{address}: {_reason(exc)}")
            return response.status, self._scrub(_answer(response))
        return None, self._scrub("could not connect: " + "; ".join(errors))

    def _pool(self, checked: Target, address: str) -> urllib3.HTTPConnectionPool:
        key = (checked.scheme, checked.host, address, checked.port)
        if key not in self._pools:
            if checked.scheme == "https":
                self._pools[key] = urllib3.HTTPSConnectionPool(
                    address,
                    checked.port,
                    maxsize=1,
                    cert_reqs="CERT_REQUIRED",
                    server_hostname=checked.host,
                    assert_hostname=checked.host,
                )
            else:  # plain http: only to loopback, with the local stack's flag (address.check_url)
                self._pools[key] = urllib3.HTTPConnectionPool(address, checked.port, maxsize=1)
        return self._pools[key]

    def _scrub(self, text: str) -> str:
        """A receiver may echo what it got: the secret never reaches an outcome (and so no log or table)."""
        return text.replace(self._secret, "[secret]")[:DETAIL_CHARS]


def _answer(response: urllib3.BaseHTTPResponse) -> str:
    """The start of what the receiver said: no more is read (a receiver could answer gigabytes), and a
    connection with more to read is closed rather than reused."""
    try:
        data = response.read(ANSWER_BYTES + 1)
    except urllib3.exceptions.HTTPError as exc:
        response.close()
        return f"(the answer could not be read: {_reason(exc)})"
    if len(data) > ANSWER_BYTES:
        response.close()
    else:
        response.release_conn()
    return data[:ANSWER_BYTES].decode("utf-8", "replace")


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"


class WebhookDestination(_HttpDestination):
    """An HTTPS endpoint: one POST of a JSON array, signed as Standard Webhooks signs
    (``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``, the ``standardwebhooks`` library)."""

    kind = "https"

    def __init__(self, settings: dict, secret: str, *, allow_loopback: bool, resolve: Resolve) -> None:
        self._webhook = Webhook(secret)
        super().__init__(settings["url"], secret, allow_loopback=allow_loopback, resolve=resolve)

    def send(self, events: list[dict]) -> Outcome:
        if not events:
            return Outcome(True, None, "nothing to send")
        body = _json(events)
        # The same batch sent again has the same id, so a receiver can drop the repeat; each event has its own.
        return self._signed(body, "msg_" + hashlib.sha256(body).hexdigest()[:32], len(events))

    def send_document(self, document: dict, message_id: str) -> Outcome:
        """One JSON document (an alert's Slack-compatible ``{"text": ...}``), signed as ``send`` signs;
        ``message_id`` is the receiver's key to drop a repeat."""
        return self._signed(_json(document), message_id, 1)

    def _signed(self, body: bytes, message_id: str, events: int) -> Outcome:
        now = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(message_id, now, body),
        }
        status, detail = self._post(body, headers)
        ok = status is not None and 200 <= status < 300
        return Outcome(ok, status, detail, sent=events if ok else 0)


class SplunkDestination(_HttpDestination):
    """Splunk HEC's event endpoint: events as concatenated JSON objects, ``Authorization: Splunk <token>``,
    up to ``SPLUNK_REQUEST_BYTES`` a request; HEC answers ``{"text":"Success","code":0}``."""

    kind = "splunk"

    def __init__(self, settings: dict, token: str, *, allow_loopback: bool, resolve: Resolve) -> None:
        super().__init__(settings["url"], token, allow_loopback=allow_loopback, resolve=resolve)
        self.settings = settings

    def _hec_event(self, event: dict) -> bytes:
        wrapped: dict[str, Any] = {"event": event, "sourcetype": self.settings["sourcetype"]}
        when = _event_time(event)
        if when is not None:
            wrapped["time"] = round(when.timestamp(), 3)
        for key in ("index", "source"):
            if self.settings.get(key):
                wrapped[key] = self.settings[key]
        return _json(wrapped)

    def send(self, events: list[dict]) -> Outcome:
        return _send_in_requests(
            self,
            [self._hec_event(e) for e in events],
            events,
            request_bytes=SPLUNK_REQUEST_BYTES,
            per_request=None,
            item_bytes=SPLUNK_REQUEST_BYTES,
            joined=lambda parts: b"".join(parts),
            headers={"Authorization": f"Splunk {self._secret}", "Content-Type": "application/json"},
            accepted=_hec_accepted,
            limit_name="Splunk HEC's 1 MB per request",
        )


def _hec_accepted(status: int, detail: str) -> bool:
    try:
        return status == 200 and json.loads(detail).get("code") == 0
    except (ValueError, AttributeError):
        return False


class DatadogDestination(_HttpDestination):
    """Datadog's logs intake v2: JSON arrays of logs with ``DD-API-KEY``, within 5 MB per request, 1 MB per
    log and 1,000 logs per array; a log over 1 MB is not sent and the outcome names it."""

    kind = "datadog"

    def __init__(self, settings: dict, api_key: str, *, allow_loopback: bool, resolve: Resolve) -> None:
        super().__init__(settings["url"], api_key, allow_loopback=allow_loopback, resolve=resolve)
        self.settings = settings

    def _log(self, event: dict) -> bytes:
        # The message is the event as JSON text (the intake's message is a string): Datadog parses it into attributes.
        message = _json(event).decode()
        log: dict[str, Any] = {"ddsource": "activitylog", "service": self.settings["service"], "message": message}
        if self.settings.get("tags"):
            log["ddtags"] = self.settings["tags"]
        return _json(log)

    def send(self, events: list[dict]) -> Outcome:
        return _send_in_requests(
            self,
            [self._log(e) for e in events],
            events,
            request_bytes=DATADOG_REQUEST_BYTES,
            per_request=DATADOG_LOGS_PER_REQUEST,
            item_bytes=DATADOG_LOG_BYTES,
            joined=lambda parts: b"[" + b",".join(parts) + b"]",
            headers={"DD-API-KEY": self._secret, "Content-Type": "application/json"},
            accepted=lambda status, detail: status == 202 or status == 200,
            limit_name="Datadog's 1 MB per log",
        )


def _send_in_requests(
    dest: _HttpDestination,
    items: list[bytes],
    events: list[dict],
    *,
    request_bytes: int,
    per_request: int | None,
    item_bytes: int,
    joined: Callable[[list[bytes]], bytes],
    headers: dict[str, str],
    accepted: Callable[[int, str], bool],
    limit_name: str,
) -> Outcome:
    """Items packed into requests in order; stops at the first request the receiver does not accept."""
    too_large = tuple(event_id_of(e) for e, item in zip(events, items, strict=True) if len(item) > item_bytes)
    sendable = [item for item in items if len(item) <= item_bytes]
    sent = 0
    status: int | None = None
    detail = "nothing to send"
    for batch in _batches(sendable, request_bytes=request_bytes, per_request=per_request, overhead=2):
        status, detail = dest._post(joined(batch), headers)
        if status is None or not accepted(status, detail):
            return Outcome(False, status, detail, sent=sent, undeliverable=too_large)
        sent += len(batch)
    if too_large:
        named = ", ".join(too_large[:5]) + (" …" if len(too_large) > 5 else "")
        detail = f"{len(too_large)} event(s) over {limit_name}, not sent: {named}"[:DETAIL_CHARS]
        return Outcome(False, status, detail, sent=sent, undeliverable=too_large)
    return Outcome(True, status, detail, sent=sent)


def _batches(
    items: list[bytes], *, request_bytes: int, per_request: int | None, overhead: int
) -> Iterator[list[bytes]]:
    """Consecutive runs of items whose joined size (one separator byte each, plus ``overhead``) fits."""
    batch: list[bytes] = []
    size = overhead
    for item in items:
        full = per_request is not None and len(batch) >= per_request
        if batch and (full or size + len(item) + 1 > request_bytes):
            yield batch
            batch, size = [], overhead
        batch.append(item)
        size += len(item) + 1
    if batch:
        yield batch


# --- the customer's bucket ------------------------------------------------------------------------------------


class BucketDestination(Destination):
    """A customer's S3 bucket through a role they let us assume (with the external id they were given): one gzip
    NDJSON object per send at ``{prefix}/dt=YYYY-MM-DD/{first_event_id}.ndjson.gz``, owned by the bucket's owner.
    The key is the first event's: a batch sent again overwrites itself rather than making a copy."""

    kind = "s3"
    SESSION_SECONDS = 900

    def __init__(self, settings: dict, *, session: Any = None) -> None:
        if not settings.get("external_id"):
            raise BadRequest("an s3 destination needs the external id its role trusts", "destination.external_id")
        self.settings = settings
        self._session = session
        self._client: Any = None
        self._expires: datetime | None = None

    def _s3(self) -> Any:
        """An S3 client on the customer's role, assumed again a minute before its credentials end."""
        if self._client is not None and self._expires and (self._expires - datetime.now(UTC)).total_seconds() > 60:
            return self._client
        import boto3

        session = self._session or boto3.session.Session()
        sts = session.client("sts", config=AWS_CONFIG)
        credentials = sts.assume_role(
            RoleArn=self.settings["role_arn"],
            RoleSessionName="activitylog-stream",
            ExternalId=self.settings["external_id"],
            DurationSeconds=self.SESSION_SECONDS,
        )["Credentials"]
        self._expires = credentials["Expiration"]
        self._client = session.client(
            "s3",
            config=AWS_CONFIG,
            region_name=self.settings.get("region") or None,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return self._client

    def key(self, events: list[dict]) -> str:
        first = events[0]
        day = (_event_time(first) or datetime.now(UTC)).strftime("%Y-%m-%d")
        return f"{self.settings['prefix']}/dt={day}/{event_id_of(first)}.ndjson.gz"

    def send(self, events: list[dict]) -> Outcome:
        if not events:
            return Outcome(True, None, "nothing to send")
        from botocore.exceptions import BotoCoreError, ClientError

        body = gzip.compress(b"".join(_json(e) + b"\n" for e in events), mtime=0)
        key = self.key(events)
        try:
            answer = self._s3().put_object(
                Bucket=self.settings["bucket"],
                Key=key,
                Body=body,
                ContentType="application/gzip",  # the object is the .gz file: no Content-Encoding to undo it
                ACL="bucket-owner-full-control",
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            self._client = None  # a refused role or a moved bucket: assume again next time
            detail = f"{exc.operation_name}: {error.get('Code', '')} {error.get('Message', '')}".strip()
            return Outcome(False, status, detail[:DETAIL_CHARS])
        except BotoCoreError as exc:
            self._client = None
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:DETAIL_CHARS])
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        return Outcome(True, status, f"s3://{self.settings['bucket']}/{key}", sent=len(events))


def _aws_config() -> Any:
    from botocore.config import Config

    # The stream's timeouts; one retry of botocore's own at most: the delivery queue does the retrying.
    return Config(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})


AWS_CONFIG = _aws_config()


def bucket_role_policy(bucket: str, prefix: str) -> dict:
    """The permissions the customer's role needs: write objects under the stream's prefix (with the ACL header
    that hands them to the bucket's owner), and nothing else: no read, no list, no delete."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ActivityLogStreamWrites",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectAcl"],
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
            }
        ],
    }


def bucket_trust_policy(principal: str, external_id: str) -> dict:
    """Who may assume the customer's role: our delivery function's role (``principal``, an ARN), and only with
    the external id we gave this customer (it stops another customer naming this role in their stream)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


# --- the settings of each kind --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    fields: tuple[str, ...]
    check: Callable[[dict, bool, Resolve | None], dict]


def _text(config: dict, name: str, *, required: bool = False, default: str = "", pattern: str = r".{1,256}") -> str:
    value = config.get(name, default)
    if value in (None, ""):
        if required:
            raise BadRequest(f"destination.{name} is required", f"destination.{name}")
        return default
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise BadRequest(f"destination.{name} is not valid", f"destination.{name}")
    return value


def _url(config: dict, allow_loopback: bool, resolve: Resolve | None, field: str = "destination.url") -> str:
    url = config.get("url")
    if resolve is None:
        check_form(url, field=field, allow_loopback=allow_loopback)  # type: ignore[arg-type]
    else:
        check_url(url, field=field, allow_loopback=allow_loopback, resolve=resolve)  # type: ignore[arg-type]
    return str(url).strip()


def _check_https(config: dict, allow_loopback: bool, resolve: Resolve | None) -> dict:
    return {"url": _url(config, allow_loopback, resolve)}


def _check_splunk(config: dict, allow_loopback: bool, resolve: Resolve | None) -> dict:
    url = _url(config, allow_loopback, resolve).rstrip("/")
    if not url.endswith(SPLUNK_PATH):
        url += SPLUNK_PATH
    settings = {"url": url}
    name = r"[A-Za-z0-9_][A-Za-z0-9_:.\-]{0,79}"
    if config.get("index"):
        settings["index"] = _text(config, "index", pattern=name)
    settings["sourcetype"] = _text(config, "sourcetype", default="activitylog", pattern=name)
    if config.get("source"):
        settings["source"] = _text(config, "source", pattern=r"[^\x00-\x1f]{1,256}")
    return settings


def _check_datadog(config: dict, allow_loopback: bool, resolve: Resolve | None) -> dict:
    if config.get("url") and config.get("site"):
        raise BadRequest("destination.site and destination.url: give one", "destination.url")
    if config.get("url"):
        url = _url(config, allow_loopback, resolve)
        site = None
    else:
        site = _text(config, "site", default="datadoghq.com", pattern=r"[a-z0-9.\-]{1,64}")
        if site not in DATADOG_SITES:
            raise BadRequest(f"destination.site must be one of {', '.join(DATADOG_SITES)}", "destination.site")
        url = _url({"url": f"https://http-intake.logs.{site}/api/v2/logs"}, False, resolve, "destination.site")
    settings: dict[str, Any] = {"url": url} if site is None else {"site": site, "url": url}
    settings["service"] = _text(config, "service", default="activitylog", pattern=r"[A-Za-z0-9_.:\-/]{1,100}")
    if config.get("tags"):
        settings["tags"] = _text(config, "tags", pattern=r"[A-Za-z0-9_.:\-/,]{1,1000}")
    return settings


def _check_s3(config: dict, allow_loopback: bool, resolve: Resolve | None) -> dict:
    # S3's bucket naming rules (no dots: a dotted name breaks TLS on virtual-hosted addresses).
    bucket = _text(config, "bucket", required=True, pattern=r"(?!xn--)(?!sthree-)[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]")
    role_arn = _text(config, "role_arn", required=True, pattern=r"arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}")
    settings = {"bucket": bucket, "role_arn": role_arn}
    if config.get("external_id"):  # ours, given to the customer for their role's trust policy
        settings["external_id"] = _text(config, "external_id", pattern=r"[\w+=,.@:/\-]{2,1224}")
    prefix = _text(config, "prefix", default="activitylog", pattern=r"[A-Za-z0-9!_.*'()\-/]{1,200}").strip("/")
    if not prefix or "//" in prefix or any(part in (".", "..") for part in prefix.split("/")):
        raise BadRequest("destination.prefix is not valid", "destination.prefix")
    settings["prefix"] = prefix
    if config.get("region"):
        settings["region"] = _text(config, "region", pattern=r"[a-z]{2}(-gov)?-[a-z]+-\d")
    return settings


_CHECKS = {
    "https": _Check(("url",), _check_https),
    "splunk": _Check(("url", "index", "sourcetype", "source"), _check_splunk),
    "datadog": _Check(("site", "url", "service", "tags"), _check_datadog),
    "s3": _Check(("bucket", "role_arn", "external_id", "prefix", "region"), _check_s3),
}


# --- what every kind reads from a rendered event --------------------------------------------------------------


def event_id_of(event: dict) -> str:
    """The rendered event's stable id, whichever format rendered it: native ``event_id``, OCSF
    ``metadata.uid``, CloudEvents ``id``."""
    metadata = event.get("metadata")
    for value in (
        event.get("event_id"),
        metadata.get("uid") if isinstance(metadata, dict) else None,
        event.get("id") if event.get("specversion") else None,
        event.get("id"),
    ):
        if isinstance(value, str) and value:
            return re.sub(r"[^A-Za-z0-9._\-]", "_", value)[:200]
    return "sha256-" + hashlib.sha256(_json(event)).hexdigest()[:32]


def _event_time(event: dict) -> datetime | None:
    """When the entry happened, whichever format: native ``occurred_at`` (the entry document's), CloudEvents
    ``time`` (RFC 3339), OCSF ``time`` (epoch milliseconds)."""
    value = event.get("occurred_at") or event.get("created_at") or event.get("time")
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
