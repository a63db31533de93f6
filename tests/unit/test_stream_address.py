"""Where a stream may send (activitylog.streams.address): a destination URL is refused before any connection
when it is not HTTPS or its host resolves to an address that is not public (SSRF into the VPC, the metadata
endpoint). Names are resolved through a stub: no test here looks a name up or opens a socket, and the
``no_network`` fixture fails a test that tries."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from activitylog.errors import BadRequest
from activitylog.streams.address import RefusedAddress, check_form, check_url, target


def resolver(table: dict[str, list[str]]):
    """A stub of socket.getaddrinfo: each name answers its addresses, in order; an unknown name does not resolve."""
    asked: list[str] = []

    def resolve(host, port, *args, **kwargs):
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in table[host]
        ]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


PUBLIC = resolver(
    {"hooks.example.com": ["93.184.215.14"], "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every check is decided before a packet: opening a socket or a real DNS look-up fails the test."""

    class NoSocket(socket.socket):
        def connect(self, address):
            raise AssertionError(f"a connection was opened to {address}")

        def connect_ex(self, address):
            raise AssertionError(f"a connection was opened to {address}")

    def no_lookup(*args, **kwargs):
        raise AssertionError(f"a real DNS look-up of {args[0]!r}")

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("connect")))
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)


def refused(url: str, resolve=PUBLIC, **kwargs) -> RefusedAddress:
    with pytest.raises(RefusedAddress) as caught:
        check_url(url, resolve=resolve, **kwargs)
    assert isinstance(caught.value, BadRequest)  # the API answers it as a 400 naming the field
    return caught.value


def test_a_public_https_url_answers_the_addresses_it_checked():
    assert check_url("https://hooks.example.com/activity?org=acme", resolve=PUBLIC) == ["93.184.215.14"]
    assert check_url("https://v6.example.com/", resolve=PUBLIC) == ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert check_url("https://93.184.215.14:8443/in", resolve=PUBLIC) == ["93.184.215.14"]


@pytest.mark.parametrize(
    "address, why",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),  # the instance metadata endpoint
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("100.127.255.254", "non-global"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),  # the broadcast address
        ("192.0.2.10", "private"),  # documentation ranges: nobody's receiver
        ("198.18.0.1", "private"),  # benchmarking
        ("::ffff:10.0.0.1", "10.0.0.1, a private"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "169.254.169.254, a link-local"),
        ("::ffff:127.0.0.1", "127.0.0.1, a loopback"),
        ("2002:a00:1::1", "10.0.0.1, a private"),  # 6to4 around a private address
        ("64:ff9b::a9fe:a9fe", "169.254.169.254, a link-local"),  # NAT64 around the metadata endpoint
    ],
)
def test_a_name_resolving_to_an_address_that_is_not_public_is_refused(address, why):
    resolve = resolver({"sneaky.example.com": [address]})
    error = refused("https://sneaky.example.com/hook", resolve=resolve)
    assert error.field == "destination.url"
    assert f"resolves to {ipaddress.ip_address(address)}" in error.message and why in error.message
    assert resolve.asked == ["sneaky.example.com"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://0.0.0.0/",
    ],
)
def test_an_address_in_the_url_is_checked_without_a_lookup(url):
    resolve = resolver({})
    error = refused(url, resolve=resolve)
    assert "a stream sends only to public addresses" in error.message
    assert resolve.asked == []


def test_one_private_address_among_public_ones_refuses_the_name():
    resolve = resolver({"mixed.example.com": ["93.184.215.14", "10.1.2.3", "2606:2800:21f::1"]})
    assert "10.1.2.3" in refused("https://mixed.example.com/", resolve=resolve).message


def test_a_name_the_resolver_does_not_know_is_refused():
    assert "does not resolve" in refused("https://nowhere.example.com/", resolve=resolver({})).message


def test_a_scoped_ipv6_answer_is_checked_without_its_scope():
    assert "fe80::1" in refused("https://s.example.com/", resolve=resolver({"s.example.com": ["fe80::1%eth0"]})).message


@pytest.mark.parametrize(
    "url, said",
    [
        ("http://hooks.example.com/", "must use https"),
        ("ftp://hooks.example.com/", "must use https"),
        ("file:///etc/passwd", "must use https"),
        ("gopher://hooks.example.com:70/", "must use https"),
        ("hooks.example.com/x", "must use https"),
        ("", "is required"),
        ("https://", "has no host"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com@10.0.0.1/", "user name or password"),
        ("https://hooks.example.com:99999/", "is not a URL"),
        ("https://hooks.example.com:22/", "port 22"),
        ("https://hooks.example.com:80/", "port 80"),
    ],
)
def test_a_url_that_is_not_https_to_a_fair_port_is_refused(url, said):
    assert said in refused(url).message


def test_ports_443_and_from_1024_up_are_taken():
    for port in (443, 1024, 8088, 8443, 65535):
        assert check_url(f"https://hooks.example.com:{port}/", resolve=PUBLIC) == ["93.184.215.14"]


def test_the_field_named_is_the_one_given():
    error = refused("https://10.0.0.1/", field="destination.site")
    assert error.field == "destination.site" and error.message.startswith("destination.site ")


def test_loopback_and_plain_http_to_it_need_the_local_flag():
    local = resolver({"receiver.test": ["127.0.0.1"]})
    assert "loopback" in refused("http://127.0.0.1:8080/", resolve=local).message
    assert "loopback" in refused("https://receiver.test:8443/", resolve=local).message
    assert check_url("http://127.0.0.1:8080/", allow_loopback=True, resolve=local) == ["127.0.0.1"]
    assert check_url("http://[::1]:8080/", allow_loopback=True, resolve=local) == ["::1"]
    assert check_url("https://receiver.test:8443/", allow_loopback=True, resolve=local) == ["127.0.0.1"]


def test_the_local_flag_admits_loopback_only():
    for address in ("10.0.0.1", "169.254.169.254", "192.168.0.10", "::ffff:127.0.0.1"):
        refused("https://x.example.com:8443/", resolve=resolver({"x.example.com": [address]}), allow_loopback=True)
    # http stays refused to anything but loopback, even to a public address.
    assert "must use https" in refused("http://hooks.example.com:8080/", allow_loopback=True).message


def test_the_target_keeps_the_host_for_tls_and_the_host_header():
    checked = target(
        "https://Hooks.Example.com:8443/in?x=1", resolve=resolver({"hooks.example.com": ["93.184.215.14"]})
    )
    assert (checked.host, checked.port, checked.path, checked.addresses) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        ("93.184.215.14",),
    )
    assert checked.host_header == "hooks.example.com:8443"
    assert target("https://hooks.example.com", resolve=PUBLIC).host_header == "hooks.example.com"


def test_an_internationalised_name_is_looked_up_and_sent_as_idna():
    resolve = resolver({"xn--bcher-kva.example": ["93.184.215.14"]})
    checked = target("https://bücher.example/in", resolve=resolve)
    assert (checked.host, checked.host_header, resolve.asked) == ("xn--bcher-kva.example",) * 2 + (
        ["xn--bcher-kva.example"],
    )


def test_the_form_check_decides_what_it_can_without_a_look_up():
    """destination() checks only this when it is made: a name's addresses are checked before each send."""
    check_form("https://hooks.example.com:8443/in")
    check_form("http://receiver.test:8080/in", allow_loopback=True)  # the send refuses it unless it is loopback
    for url, said in (
        ("http://hooks.example.com/", "must use https"),
        ("https://hooks.example.com:25/", "port 25"),
        ("https://u:p@hooks.example.com/", "user name or password"),
        ("https://10.0.0.1/", "a private address"),
        ("https://[::ffff:169.254.169.254]/", "link-local"),
    ):
        with pytest.raises(RefusedAddress, match=said):
            check_form(url)
