"""Fetching a file by reference (an https URL, or an s3://bucket/key URL of a public object),
streamed, without server-side request forgery.

The host is resolved here and every address it resolves to must be public (not private, loopback,
link-local, multicast, reserved or unspecified) unless the host is in ``DATA_FETCH_ALLOW_HOSTS``;
the connection then goes to the very address that was checked (a DNS answer that changes between
the check and the connection cannot redirect it), with TLS verified against the host name.
Redirects are followed by hand, each target checked the same way. Plain http is refused except for
allow-listed hosts (tests, an intranet mirror). s3:// URLs are read anonymously (public objects
only; the hub's own credentials are never used for a URL a user typed) from
``DATA_FETCH_S3_ENDPOINT_URL`` (default: AWS)."""

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from urllib.parse import quote, unquote, urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "AIFactoryHub-fetch/1"
# The whole fetch (redirects and body) must end within this many seconds, so a server that
# trickles bytes (each read within DATA_FETCH_TIMEOUT) cannot hold a worker forever. None: derived
# from DATA_FETCH_TIMEOUT as max(DATA_FETCH_TIMEOUT * 20, 600).
DEADLINE_SECONDS: float | None = None
# NAT64 prefixes (RFC 6052, RFC 8215): the IPv4 address is in the last 32 bits. The well-known
# one reaches exactly that IPv4 address, so it is judged as that address alone (DNS64 networks).
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class FetchError(Exception):
    """The URL was refused or could not be fetched; the message says why (for the user)."""


def _allow_hosts() -> set[str]:
    hosts = {h.strip().lower().strip("[]") for h in settings.DATA_FETCH_ALLOW_HOSTS if h.strip()}
    endpoint = getattr(settings, "DATA_FETCH_S3_ENDPOINT_URL", "")
    if endpoint:  # the operator's own choice of S3 endpoint is trusted
        hosts.add((urlsplit(endpoint).hostname or "").lower())
    return hosts


def address_refused(address: str) -> bool:
    """Whether an IP address is one a fetch must not reach."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64_WELL_KNOWN:
            ip = last32
        else:  # an IPv4 address inside a translation or tunnel prefix is checked too
            embedded = [ip.sixtofour, ip.teredo[1] if ip.teredo else None]
            if ip in NAT64_LOCAL:
                embedded.append(last32)
            if any(v4 is not None and address_refused(str(v4)) for v4 in embedded):
                return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def s3_to_https(url: str) -> str:
    """The HTTP(S) address of s3://bucket/key: path-style on the configured endpoint, or AWS's
    virtual-hosted style."""
    parts = urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise FetchError(
            _("%(url)s: an s3 URL needs a bucket and a key (s3://bucket/key)") % {"url": url}
        )
    endpoint = getattr(settings, "DATA_FETCH_S3_ENDPOINT_URL", "") or ""
    if endpoint:
        return f"{endpoint.rstrip('/')}/{quote(bucket)}/{quote(unquote(key))}"
    return f"https://{bucket}.s3.amazonaws.com/{quote(unquote(key))}"


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an acceptable URL; FetchError otherwise. Does not
    resolve the host (``resolve`` does)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(
            _("%(url)s: not a valid URL (%(error)s)") % {"url": url, "error": exc}
        ) from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise FetchError(_("%(url)s: only https (or s3://) URLs are fetched") % {"url": url})
    if parts.username or parts.password:
        raise FetchError(_("%(url)s: URLs with a user name or password are refused") % {"url": url})
    if scheme == "http" and host not in _allow_hosts():
        raise FetchError(_("%(url)s: plain http is refused, use https") % {"url": url})
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(host: str, port: int) -> str:
    """The address to connect to: the host's first address, after checking all of them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(
            _("%(host)s: the host name does not resolve (%(error)s)") % {"host": host, "error": exc}
        ) from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchError(_("%(host)s: the host name does not resolve") % {"host": host})
    if host not in _allow_hosts():
        for address in addresses:
            if address_refused(address):
                raise FetchError(
                    _("%(host)s: resolves to %(address)s, a private or reserved address: refused")
                    % {"host": host, "address": address}
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _open(url: str, timeout: float):
    scheme, host, port, path = check_url(url)
    address = resolve(host, port)
    if scheme == "https":
        connection = _PinnedHTTPSConnection(
            host, port, address, timeout, ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(host, port, address, timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
        return connection, connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from None


def _too_slow(url: str, limit: float) -> str:
    return _("%(url)s: the download took longer than %(seconds)s seconds") % {
        "url": url,
        "seconds": f"{limit:g}",
    }


def fetch_chunks(url: str, *, max_bytes: int, timeout: float | None = None) -> Iterator[bytes]:
    """The body of ``url`` in chunks, after the checks above; FetchError on refusal, an HTTP
    status other than 200, a body larger than ``max_bytes`` or a network error."""
    original = url
    if url.lower().startswith("s3://"):
        url = s3_to_https(url)
    timeout = settings.DATA_FETCH_TIMEOUT if timeout is None else timeout
    limit = DEADLINE_SECONDS or max(settings.DATA_FETCH_TIMEOUT * 20, 600)
    deadline = time.monotonic() + limit
    for _hop in range(MAX_REDIRECTS + 1):
        connection, response = _open(url, timeout)
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            connection.close()
            if not location:
                raise FetchError(_("%(url)s: a redirect without a Location") % {"url": original})
            url = urljoin(url, location)
            continue
        break
    else:
        connection.close()
        raise FetchError(
            _("%(url)s: more than %(n)d redirects") % {"url": original, "n": MAX_REDIRECTS}
        )
    try:
        if response.status != 200:
            raise FetchError(
                _("%(url)s: the server answered HTTP %(status)s")
                % {"url": original, "status": response.status}
            )
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise FetchError(
                _("%(url)s: the file (%(size)s bytes) is larger than the limit of %(limit)s bytes")
                % {"url": original, "size": f"{int(length):,}", "limit": f"{max_bytes:,}"}
            )
        received = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(_too_slow(original, limit))
            if connection.sock is not None:  # no single read may outlast the deadline
                connection.sock.settimeout(min(timeout, remaining))
            try:
                chunk = response.read1(CHUNK)  # what arrived, not a wait for a full chunk
            except (OSError, http.client.HTTPException) as exc:
                if time.monotonic() >= deadline:
                    raise FetchError(_too_slow(original, limit)) from None
                raise FetchError(f"{original}: {exc.__class__.__name__}: {exc}") from None
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise FetchError(
                    _("%(url)s: the file is larger than the limit of %(limit)s bytes")
                    % {"url": original, "limit": f"{max_bytes:,}"}
                )
            yield chunk
        if length and length.isdigit() and received != int(length):
            raise FetchError(
                _("%(url)s: the connection ended after %(received)s of %(size)s bytes")
                % {"url": original, "received": f"{received:,}", "size": f"{int(length):,}"}
            )
    finally:
        connection.close()


def reference_name(url: str) -> str:
    """A file name for the URL: the last part of its path (made safe by the caller)."""
    path = urlsplit(url).path if "://" in url else url
    name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    return name or "download"


def check_reference(url: str) -> str:
    """A URL as given, checked without network: https or s3 (http only for allow-listed hosts),
    no credentials, and no literal private address. FetchError otherwise."""
    url = (url or "").strip()
    if url.lower().startswith("s3://"):
        s3_to_https(url)
        return url
    _scheme, host, _port, _path = check_url(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url
    if host not in _allow_hosts() and address_refused(str(literal)):
        raise FetchError(
            _("%(url)s: %(host)s is a private or reserved address: refused")
            % {"url": url, "host": host}
        )
    return url


__all__ = [
    "FetchError",
    "address_refused",
    "check_reference",
    "check_url",
    "fetch_chunks",
    "reference_name",
    "resolve",
]
