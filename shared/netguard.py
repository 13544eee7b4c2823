"""Where webhooks may connect: a guard against server-side request forgery (SSRF).

Anyone with an API key chooses webhook URLs, and workers POST to them from inside your
network. So:

- always refused: link-local (169.254.0.0/16, fe80::/10 — cloud metadata services answer
  there), well-known metadata addresses outside that range, multicast, unspecified and
  reserved addresses;
- refused unless `allow_private` (SLUICE_WEBHOOK_ALLOW_PRIVATE): loopback and every other
  non-global address (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, …).

IPv6 forms that embed an IPv4 address (::ffff:a.b.c.d, 64:ff9b::/96, 2002::/16) are judged
by that IPv4 address. `url_problem` checks a literal IP at validation time; `guarded_session`
checks every address a name resolves to at connect time and connects only to those very
addresses, so a DNS answer that changes between check and connect (rebinding) cannot slip
through. A refused address raises AddressRefused, which is deliberately not an OSError, so
neither urllib3 nor our retry policy mistakes it for a transient network error.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection
from shared.errors import UserError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]
ALLOW_HINT = "set SLUICE_WEBHOOK_ALLOW_PRIVATE=true to allow loopback and private networks"
# Metadata services reachable outside link-local: AWS over IPv6, Alibaba Cloud, Oracle Cloud.
METADATA = frozenset(ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux routes 0.x.x.x to the local host
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SWITCHABLE = ("a loopback address", "a private-network address")  # what allow_private permits


class AddressRefused(UserError):
    """The webhook host is, or resolves to, an address webhooks may not reach."""


def _embedded_v4(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_problem(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not connect to `ip` ("a loopback address", …), or None."""
    ip = _embedded_v4(ip)
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "an unspecified address"
    if ip.is_loopback:  # before is_reserved: ::1 lies in the reserved ::/8
        return None if allow_private else "a loopback address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return None if allow_private else "a private-network address"
    return None


def literal_ip(host: str | None) -> IPAddress | None:
    """The address a URL host names literally, also in the legacy forms resolvers accept
    (`127.1`, `0x7f.0.0.1`, `2130706433`); None for a host name."""
    if not host:
        return None
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host.replace(".", "").replace("x", "").replace("X", "").isalnum() and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _refusal(host: str, ip: IPAddress) -> str:
    reason = address_problem(ip, allow_private=False)
    where = f"{ip} is" if literal_ip(host) == ip else f"{host} resolves to {ip}, which is"
    hint = ALLOW_HINT if reason in _SWITCHABLE else "webhooks may never reach it"
    return f"refused: {where} {reason}; {hint}"


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Validation-time check of a URL whose host is a literal IP (names are checked at send time)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None  # the URL check reports malformed URLs
    ip = literal_ip(host)
    if ip is None:
        return None
    return _refusal(host, ip) if address_problem(ip, allow_private=allow_private) else None


def resolve_checked(host: str, port: int, *, allow_private: bool,
                    resolve: Resolver | None = None) -> list[str]:
    """Every address `host` resolves to, if all of them are allowed; else AddressRefused.
    One refused address refuses the host: a name that also points inside is not trusted."""
    infos = (resolve or socket.getaddrinfo)(host, port, 0, socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if address_problem(ip, allow_private=allow_private):
            raise AddressRefused(_refusal(host, ip))
    return addresses


def _guarded_new_conn(self: Any) -> Any:
    """urllib3's `_new_conn`, but connecting only to addresses `resolve_checked` allowed. The
    host name stays in place for the Host header, SNI and certificate checks."""
    try:
        addresses = resolve_checked(self._dns_host, self.port, allow_private=self.allow_private)
    except socket.gaierror as exc:
        raise NameResolutionError(self.host, self, exc) from exc
    error: Exception | None = None
    for address in addresses:
        try:
            return create_connection((address, self.port), self.timeout,
                                     source_address=self.source_address, socket_options=self.socket_options)
        except socket.timeout:
            error = ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                              f"(connect timeout={self.timeout})")
        except OSError as exc:
            error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
    raise error or NewConnectionError(self, f"{self.host} resolved to no address")


@functools.lru_cache(maxsize=2)
def _pool_classes(allow_private: bool) -> dict[str, type]:
    """Pool classes whose connections are guarded (one set per mode; urllib3 builds
    connections from a class, so the mode travels as a class attribute)."""
    attrs = {"allow_private": allow_private, "_new_conn": _guarded_new_conn}
    conn = type("GuardedHTTPConnection", (HTTPConnection,), attrs)
    sconn = type("GuardedHTTPSConnection", (HTTPSConnection,), attrs)
    return {"http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": conn}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": sconn})}


class GuardedAdapter(HTTPAdapter):
    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow_private)

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if select_proxy(request.url, kwargs.get("proxies")):
            # Through an HTTP(S)_PROXY the proxy resolves and connects, out of our reach: check
            # what the name resolves to here (best effort; the proxy's own rules do the rest).
            parts = urlsplit(request.url)
            resolve_checked(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                            allow_private=self.allow_private)
        return super().send(request, *args, **kwargs)


def guarded_session(allow_private: bool) -> requests.Session:
    """A requests Session that only reaches addresses webhooks may reach."""
    session = requests.Session()
    adapter = GuardedAdapter(allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


__all__ = ["AddressRefused", "ALLOW_HINT", "address_problem", "literal_ip", "url_problem",
           "resolve_checked", "guarded_session"]
