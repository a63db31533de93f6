"""Where a stream may send: a destination URL's host resolved and checked before any connection is opened.

A stream posts the org's log to a URL its admin typed, from inside our network: without this check that is a
way into the VPC or the instance metadata endpoint (SSRF). The URL must be HTTPS and every address its host
resolves to must be public; the check runs when the stream is saved and again before each delivery (DNS can
change), and the delivery connects to the address checked, never to a second DNS answer (rebinding).

>>> def resolve(host, port, *args, **kwargs):
...     return [(2, 1, 6, "", ({"hooks.example.com": "93.184.215.14", "evil.example.com": "169.254.169.254"}[host], port))]
>>> check_url("https://hooks.example.com/activity", resolve=resolve)
['93.184.215.14']
>>> check_url("https://evil.example.com/", resolve=resolve)
Traceback (most recent call last):
...
activitylog.streams.address.RefusedAddress: destination.url resolves to 169.254.169.254, a link-local address ...
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from activitylog.errors import BadRequest

Resolve = Callable[..., list[Any]]

# 443, and the unprivileged ports a SIEM's collector listens on (Splunk HEC 8088, a proxy's 8443). The ports
# under 1024 other than 443 are the well-known services (SSH 22, SMTP 25, DNS 53, ...) a log never goes to.
HTTPS_PORT = 443
LOWEST_OTHER_PORT = 1024

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits: a gateway would reach it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(BadRequest):
    """A destination URL the service will not send to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL, split for the connection: scheme, host (as the URL names it), port, path with query."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url(
    url: str, *, field: str = "destination.url", allow_loopback: bool = False, resolve: Resolve = socket.getaddrinfo
) -> list[str]:
    """The URL's host resolved and checked: HTTPS only (http only to 127.0.0.1/::1 when allow_loopback),
    no private, loopback, link-local (169.254.0.0/16, fe80::/10), multicast, reserved, unspecified, CGNAT,
    IPv4-mapped-private addresses; ALL resolved addresses must pass. Returns the checked IPs.
    Decided before any connection is opened; tests pass a stub `resolve`.

    Ports: 443 or 1024 and above. ``allow_loopback`` is the local stack's flag for a receiver a test runs:
    it admits loopback addresses (and plain http to them), nothing else."""
    return list(target(url, field=field, allow_loopback=allow_loopback, resolve=resolve).addresses)


def target(
    url: str, *, field: str = "destination.url", allow_loopback: bool = False, resolve: Resolve = socket.getaddrinfo
) -> Target:
    """``check_url``'s work, answered as what a connection needs (the destinations module connects with it)."""
    parts = _split(url, field)
    host = _ascii_host(parts.hostname or "", field)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolved(host, port, field, resolve)
    for address in addresses:
        why = _why_not(address, allow_loopback)
        if why:
            named = "is" if address == host else f"resolves to {address},"
            raise RefusedAddress(f"{field} {named} {why}: a stream sends only to public addresses", field)
    if parts.scheme == "http" and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise RefusedAddress(f"{field} must use https", field)
    if port != HTTPS_PORT and port < LOWEST_OTHER_PORT:
        raise RefusedAddress(f"{field} uses port {port}: a stream sends to port 443 or a port from 1024 up", field)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(addresses))


def check_form(url: str, *, field: str = "destination.url", allow_loopback: bool = False) -> None:
    """What can be decided without a look-up: the scheme, no user name or password, the port, and an address
    written in the URL. A name's addresses are ``check_url``'s, at save and before each send.

    >>> check_form("https://hooks.example.com:8443/in")
    >>> check_form("https://169.254.169.254/")
    Traceback (most recent call last):
    ...
    activitylog.streams.address.RefusedAddress: destination.url is a link-local address ...
    """
    parts = _split(url, field)
    host = _ascii_host(parts.hostname or "", field)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if parts.scheme == "http" and not allow_loopback:
            raise RefusedAddress(f"{field} must use https", field) from None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port != HTTPS_PORT and port < LOWEST_OTHER_PORT:
            raise RefusedAddress(
                f"{field} uses port {port}: a stream sends to port 443 or a port from 1024 up", field
            ) from None
        return
    target(url, field=field, allow_loopback=allow_loopback, resolve=_no_lookup)  # an address: decided here


def _no_lookup(host: str, *args: Any, **kwargs: Any) -> list[Any]:
    raise AssertionError(f"no look-up of {host} here")  # target() never looks an address up


def _split(url: str, field: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise RefusedAddress(f"{field} is required: an https:// URL", field)
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise RefusedAddress(f"{field} is not a URL: {exc}", field) from None
    if parts.scheme not in ("https", "http"):
        raise RefusedAddress(f"{field} must use https", field)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        # Credentials in a URL end up in logs and Referer headers; and "https://ok.com@10.0.0.1" misleads a reader.
        raise RefusedAddress(
            f"{field} must not carry a user name or password: put the secret in the secret field", field
        )
    if not parts.hostname:
        raise RefusedAddress(f"{field} has no host", field)
    return parts


def _ascii_host(host: str, field: str) -> str:
    """An internationalised name as DNS and the Host header carry it (IDNA), so the name checked is the name sent."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise RefusedAddress(f"{field} has a host name that is not valid", field) from None


def _resolved(host: str, port: int, field: str, resolve: Resolve) -> list[str]:
    """Every address the host names, in the resolver's order: an IP literal is itself, a name is looked up."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise RefusedAddress(f"{field}: the host {host} does not resolve ({exc})", field) from None
    addresses: list[str] = []
    for answer in answers:
        address = str(ipaddress.ip_address(answer[4][0].split("%", 1)[0]))  # fe80::1%eth0: the scope is no address
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedAddress(f"{field}: the host {host} does not resolve", field)
    return addresses


def _why_not(address: str, allow_loopback: bool) -> str | None:
    """Why an address is no destination (None: a public address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ip.sixtofour) or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            why = _why_not(str(embedded), allow_loopback=False)
            return f"an IPv6 address carrying {embedded}, {why}" if why else None
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local:
        return "a link-local address (the metadata endpoint's range)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and the other ranges IANA marks not global
        return "a shared or non-global address"
    return None
