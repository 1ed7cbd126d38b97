"""Outbound HTTP calls guarded against SSRF.

A URL is checked once per delivery (`check`): only http and https, no userinfo, and every
address its host resolves to must be global or allow-listed; cloud metadata services are
never reachable. The request then goes to a checked address, never to a fresh resolution,
and redirects are answered, not followed. Reasons and errors name hosts and addresses only:
a URL's path and query may carry a secret (Slack puts it in the path).
"""

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, TypeAlias

import httpx

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "VERSIONER_WEBHOOK_ALLOW_HOSTS"
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024

_SCHEMES = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# NAT64's well-known prefix embeds an IPv4 address that a NAT64 gateway will reach for us.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Metadata services hand out cloud credentials; no allow-list entry opens them. Azure's
# WireServer sits on an address that `ipaddress` calls global.
_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})

# `ipaddress.is_global` changed between patch releases (3.11.7 calls 224.0.0.1,
# 64:ff9b:1::1 and 2002::/16 global), so IANA's non-global blocks are also listed here and
# the answer is the same on every supported Python. Deprecated transition forms are refused.
_NOT_GLOBAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)


class EgressError(Exception):
    """An outbound call that did not get an answer."""


class EgressRefused(EgressError):  # noqa: N818 - reads as what happened
    """The URL may not be called; nothing was sent. The message says why."""


class NotConnected(EgressError):  # noqa: N818 - reads as what happened
    """No request left: the host did not resolve, or no connection could be made."""


class ConnectionLost(EgressError):  # noqa: N818 - reads as what happened
    """The request started going out and then failed: the receiver may have acted on it."""


class Resolver(Protocol):
    """Turns a host name into the IP addresses to check and connect to."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, in the order to try them."""
        ...


class SystemResolver:
    """The operating system's resolver, bounded in time."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses from `getaddrinfo`, without duplicates, in its order."""
        async with asyncio.timeout(self._timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks that outbound calls may reach although they are not global."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Self:
        """Exact host names, IP addresses and CIDRs, separated by commas or spaces."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in re.split(r"[\s,]+", text.strip()):
            if not entry:
                continue
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry))
                except ValueError as exc:
                    raise ValueError(f"{ALLOW_SETTING}: {entry!r} is not a CIDR: {exc}") from None
                continue
            address = _ip(entry.removeprefix("[").removesuffix("]"))
            if address is not None:
                if _unwrap(address) in _METADATA_ADDRESSES:
                    raise ValueError(
                        f"{ALLOW_SETTING}: {entry} is a cloud metadata address, "
                        "which is never allowed"
                    )
                networks.append(ipaddress.ip_network(address))
                continue
            host = _normal_host(entry)
            if not host.isascii() or len(host) > 253 or not _HOST_NAME.fullmatch(host):
                raise ValueError(
                    f"{ALLOW_SETTING}: {entry!r} is not an exact host name (ASCII, "
                    "internationalised names in their xn-- form), an IP address or a CIDR"
                )
            if host in _METADATA_HOSTS:
                raise ValueError(
                    f"{ALLOW_SETTING}: {entry} is a cloud metadata service, which is never allowed"
                )
            hosts.add(host)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """Whether the host name is listed exactly (case and a final dot do not matter)."""
        return _normal_host(host) in self.hosts

    def allows_address(self, address: str | IPAddress) -> bool:
        """Whether the address (IPv4-mapped ones unwrapped) is inside a listed network."""
        ip = _unwrap(ipaddress.ip_address(address))
        return any(ip in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and what to ask for there."""

    scheme: str
    host: str
    port: int
    # Left out of the repr: a URL's path and query may carry its secret.
    path_and_query: str = field(repr=False)
    addresses: tuple[str, ...]

    @property
    def authority(self) -> str:
        """The `Host` header: the host, and the port when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _SCHEMES[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """Scheme, host and port: what may be logged about the URL."""
        return f"{self.scheme}://{self.authority}"

    def url_at(self, address: str) -> httpx.URL:
        """The URL with one checked address in place of the host name."""
        host = f"[{address}]" if ":" in address else address
        return httpx.URL(f"{self.scheme}://{host}:{self.port}{self.path_and_query}")


async def check(url: str, resolver: Resolver, allow: AllowList) -> Target:
    """Parse and resolve an outbound URL once; refuse it unless every address may be reached.

    Raises `EgressRefused` for a URL that may not be called and `NotConnected` when the host
    does not resolve (worth retrying later).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise EgressRefused("not a valid URL") from None
    if parsed.scheme not in _SCHEMES:
        raise EgressRefused(f"only http and https URLs are called, not {parsed.scheme or 'none'}")
    if parsed.userinfo:
        raise EgressRefused("URLs with a user name or password (user:pass@) are refused")
    host = _normal_host(parsed.raw_host.decode("ascii"))
    if not host:
        raise EgressRefused("the URL has no host")
    port = parsed.port if parsed.port is not None else _SCHEMES[parsed.scheme]
    if not 0 < port < 65536:
        raise EgressRefused(f"{port} is not a TCP port")
    if host in _METADATA_HOSTS:
        raise EgressRefused(f"{host} is a cloud metadata service, which is never allowed")

    if _ip(host) is not None:
        found = [host]
    else:
        try:
            found = await resolver.resolve(host, port)
        except OSError as exc:
            raise NotConnected(f"{host} did not resolve: {exc.strerror or _describe(exc)}") from exc
        if not found:
            raise EgressRefused(f"{host} resolves to no address")
    addresses = tuple(dict.fromkeys(_checked(host, text, allow) for text in found))
    return Target(
        scheme=parsed.scheme,
        host=host,
        port=port,
        path_and_query=parsed.raw_path.decode("ascii"),
        addresses=addresses,
    )


@dataclass(frozen=True)
class Timeouts:
    """Deadlines of one outbound call, in seconds; `total` bounds everything."""

    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 5.0
    total: float = 10.0

    @classmethod
    def within(cls, seconds: float) -> Self:
        """Every phase, and the whole call, within `seconds`."""
        return cls(connect=seconds, read=seconds, write=seconds, pool=seconds, total=seconds)

    def for_httpx(self) -> httpx.Timeout:
        """The per-phase deadlines as httpx takes them."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class EgressResponse:
    """What the receiver answered, the body cut at the bound."""

    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    address: str


class Egress:
    """Checks outbound URLs and sends requests to the checked addresses over one client."""

    def __init__(
        self,
        resolver: Resolver,
        allow: AllowList,
        timeouts: Timeouts | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow = allow
        self._timeouts = timeouts or Timeouts()
        # Connections are never reused: one opened for a name must not carry a request for
        # another name that happens to share its address, as TLS checked only the first.
        self._client = httpx.AsyncClient(
            verify=tls if tls is not None else True,
            trust_env=False,
            follow_redirects=False,
            timeout=self._timeouts.for_httpx(),
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": "versioner-notifier"},
        )

    async def check(self, url: str) -> Target:
        """Check an outbound URL (see `check`)."""
        return await check(url, self._resolver, self._allow)

    async def send(
        self,
        target: Target,
        method: str,
        headers: Mapping[str, str],
        content: bytes = b"",
        *,
        timeout: Timeouts | float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> EgressResponse:
        """Send one request to the target's first address that accepts a connection.

        Raises `NotConnected` when nothing was sent (safe to retry) and `ConnectionLost`
        when the request started going out and no full answer came back.
        """
        if isinstance(timeout, Timeouts):
            timeouts = timeout
        else:
            timeouts = self._timeouts if timeout is None else Timeouts.within(timeout)
        if not target.addresses:
            raise NotConnected(f"{target.host} has no checked address")
        call = _Call(
            method, _request_headers(target, headers), content, timeouts, max_response_bytes
        )
        progress = _Progress()
        address = target.addresses[0]
        failure: NotConnected | None = None
        try:
            async with asyncio.timeout(timeouts.total):
                for address in target.addresses:
                    progress = _Progress()
                    try:
                        return await self._exchange(target, address, call, progress)
                    except httpx.TransportError as exc:
                        if progress.sent and not isinstance(exc, _NOTHING_SENT):
                            raise ConnectionLost(
                                f"{target.host} at {address}: {_describe(exc)}"
                            ) from exc
                        failure = NotConnected(
                            f"could not connect to {target.host} at {address}: {_describe(exc)}"
                        )
                        failure.__cause__ = exc
        except TimeoutError as exc:
            what = f"{target.host} at {address}: no answer within {timeouts.total:g} s"
            if progress.sent:
                raise ConnectionLost(what) from exc
            raise NotConnected(what) from exc
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        """Close the shared client."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _exchange(
        self, target: Target, address: str, call: "_Call", progress: "_Progress"
    ) -> EgressResponse:
        extensions: dict[str, Any] = {"trace": progress.trace}
        if target.scheme == "https" and _ip(target.host) is None:
            # The connection goes to the address; TLS still names and verifies the host.
            extensions["sni_hostname"] = target.host
        request = self._client.build_request(
            call.method,
            target.url_at(address),
            headers=call.headers,
            content=call.content,
            timeout=call.timeouts.for_httpx(),
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            truncated = False
            # Raw bytes: decoding a compressed body could grow one chunk without bound.
            async for chunk in response.aiter_raw():
                room = call.max_response_bytes - len(body)
                if len(chunk) > room:
                    body += chunk[:room]
                    truncated = True
                    break
                body += chunk
        finally:
            await response.aclose()
        return EgressResponse(
            status=response.status_code,
            headers=dict(response.headers.items()),
            body=bytes(body),
            truncated=truncated,
            address=address,
        )


@dataclass(frozen=True)
class _Call:
    """One request, as it is sent to each address in turn."""

    method: str
    headers: dict[str, str]
    content: bytes
    timeouts: Timeouts
    max_response_bytes: int


class _Progress:
    """How far a request got, from httpcore's trace events: once its headers start going
    out, the receiver may act on it, so a failure after that is `ConnectionLost`."""

    def __init__(self) -> None:
        self.sent = False

    async def trace(self, event: str, _info: dict[str, Any]) -> None:
        """httpcore's `trace` request extension."""
        if event.endswith("send_request_headers.started"):
            self.sent = True


# Failures that prove nothing reached the receiver, whatever the trace says.
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _checked(host: str, text: str, allow: AllowList) -> str:
    """The address to connect to, or `EgressRefused` saying why it may not be reached."""
    ip = _ip(text)
    if ip is None:
        raise EgressRefused(f"{host} resolved to {text!r}, which is not an IP address")
    ip = _unwrap(ip)
    embedded = _nat64(ip)
    if ip in _METADATA_ADDRESSES or embedded in _METADATA_ADDRESSES:
        raise EgressRefused(f"{ip} is a cloud metadata address, which is never allowed")
    if ip.is_unspecified:
        raise EgressRefused(f"{ip} is the unspecified address, which is never allowed")
    if allow.allows_host(host) or allow.allows_address(ip):
        return str(ip)
    if embedded is not None and allow.allows_address(embedded):
        return str(ip)
    if _is_global(ip) and (embedded is None or _is_global(embedded)):
        return str(ip)
    if _ip(host) is not None:
        raise EgressRefused(f"{ip} is not a global address; allow it with {ALLOW_SETTING}")
    raise EgressRefused(
        f"{host} resolves to {ip}, which is not a global address; allow it with {ALLOW_SETTING}"
    )


def _is_global(ip: IPAddress) -> bool:
    return ip.is_global and not any(ip in network for network in _NOT_GLOBAL)


def _unwrap(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address is the IPv4 address it maps."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _nat64(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 address (well-known prefix) stands for."""
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _normal_host(host: str) -> str:
    return host.lower().rstrip(".")


def _request_headers(target: Target, headers: Mapping[str, str]) -> dict[str, str]:
    out = {name: value for name, value in headers.items() if name.lower() != "host"}
    out["Host"] = target.authority
    if not any(name.lower() == "accept-encoding" for name in out):
        out["Accept-Encoding"] = "identity"
    return out


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
