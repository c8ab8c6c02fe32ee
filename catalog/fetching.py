"""Fetching a product's photo from the shop's image link, safely.

A link comes from a feed or the API, so it may point anywhere: at the finder's own Redis, a
cloud's metadata service, a router. Every hop (the link and each of at most
:data:`MAX_REDIRECTS` redirects) must be http or https to a public address: the name is
resolved here, each of its addresses checked, and the connection is made to the checked address
itself, so a name that resolves differently a moment later (DNS rebinding) gains nothing.
Private, loopback, link-local, unique-local, multicast and reserved addresses are refused, IPv4
written inside IPv6 too, unless ``FINDER_FETCH_ALLOW_PRIVATE`` (an intranet; the tests). The
whole fetch has :data:`TIMEOUT_SECONDS` and the body :data:`catalog.images.MAX_IMAGE_BYTES`.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from catalog.images import MAX_IMAGE_BYTES

TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3
CHUNK = 65536
USER_AGENT = "FashionProductFinder/1 (fetching a product photo)"


class FetchFailed(Exception):
    """The photo could not be had; the message says why, for the shop's staff."""


def fetch(url: str) -> bytes:
    """The body at ``url``, following redirects; raises :class:`FetchFailed`."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for _ in range(MAX_REDIRECTS + 1):
        status, location, body = _get(url, deadline)
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        if status != 200:
            raise FetchFailed(f"the image link answered HTTP {status}")
        return body
    raise FetchFailed(f"the image link redirected more than {MAX_REDIRECTS} times")


def _get(url: str, deadline: float) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchFailed("the image link is not an http or https address")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _public_address(parts.hostname, port)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname, port, address, timeout=_left(deadline))
    else:
        connection = _PinnedHTTP(parts.hostname, port, address, timeout=_left(deadline))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location", ""), b""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
            raise FetchFailed(f"the image is larger than {MAX_IMAGE_BYTES // 1_000_000} MB")
        body = bytearray()
        while chunk := response.read(CHUNK):
            body += chunk
            if len(body) > MAX_IMAGE_BYTES:
                raise FetchFailed(f"the image is larger than {MAX_IMAGE_BYTES // 1_000_000} MB")
            if connection.sock is not None:  # None once the whole body is in
                connection.sock.settimeout(_left(deadline))
        return 200, "", bytes(body)
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise FetchFailed(f"the image link took longer than {TIMEOUT_SECONDS:g} s") from None
        raise FetchFailed(f"the image link could not be fetched ({type(exc).__name__}: {exc})") from None
    finally:
        connection.close()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed(f"the image link took longer than {TIMEOUT_SECONDS:g} s")
    return left


def _public_address(host: str, port: int) -> str:
    """The first address of ``host``, every one of them checked."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"the image link's host {host!r} cannot be found ({exc})") from None
    addresses = [info[4][0] for info in found]
    for address in addresses:
        refused(address)
    return addresses[0]


def refused(address: str) -> None:
    """Raise :class:`FetchFailed` for an address the finder must not reach."""
    if settings.FINDER_FETCH_ALLOW_PRIVATE:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if mapped is not None:
            ip = mapped
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local or ip.is_private:
        raise FetchFailed(f"the image link points at a private address ({address}), which the finder does not fetch")


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a checked address, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        refused(self.sock.getpeername()[0])


class _PinnedHTTPS(_PinnedHTTP):
    """HTTPS to a checked address; the certificate is checked against the link's host name."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)
