"""Outbound calls: checked once against SSRF, sent to the checked address, bounded."""

import asyncio
import datetime
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from versioner.notifier.egress import (
    AllowList,
    ConnectionLost,
    Egress,
    EgressRefused,
    NotConnected,
    SystemResolver,
    Target,
    Timeouts,
    check,
)

LOCAL = AllowList.parse("127.0.0.1")
NOBODY = AllowList.parse("")


class FakeResolver:
    """Answers from a fixed table and remembers what it was asked."""

    def __init__(self, names: Mapping[str, list[str]]) -> None:
        self.names = dict(names)
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])


@dataclass(frozen=True)
class Seen:
    """One request as the local hooks saw it."""

    method: str
    path: str
    host: str
    body: bytes


class HookServer:
    """A webhook hooks on 127.0.0.1 that records every request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_route("*", "/hook", self._hook)
        app.router.add_route("*", "/moved", self._moved)
        app.router.add_route("*", "/large", self._large)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> None:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, request.host, body))

    async def _hook(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="thanks", headers={"X-Receiver": "yes"})

    async def _moved(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=302, headers={"Location": "/hook"})

    async def _large(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(body=b"x" * 200_000)


@pytest.fixture
async def hooks() -> AsyncIterator[HookServer]:
    """A plain-HTTP hooks."""
    running = HookServer()
    await running.start()
    yield running
    await running.close()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
async def egress() -> AsyncIterator[Egress]:
    """Egress resolving `hooks.test` to 127.0.0.1, which is allow-listed."""
    async with Egress(FakeResolver({"hooks.test": ["127.0.0.1"]}), LOCAL, Timeouts.within(2)) as e:
        yield e


async def checked(url: str, addresses: list[str], allow: AllowList = NOBODY) -> Target:
    """Check `url`, its host resolving to `addresses`."""
    host = url.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0].lower().rstrip(".")
    return await check(url, FakeResolver({host: addresses}), allow)


# ---- checking


async def test_a_global_address_passes_after_one_resolution() -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34", "2606:2800:220:1::1"]})

    target = await check("https://Example.COM./hook?x=1", resolver, NOBODY)

    assert target == Target(
        scheme="https",
        host="example.com",
        port=443,
        path_and_query="/hook?x=1",
        addresses=("93.184.216.34", "2606:2800:220:1::1"),
    )
    assert resolver.asked == ["example.com"]
    assert target.authority == "example.com"


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.8.8",
        "169.254.10.10",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.0.192",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "2002:7f00:1::1",
        "::7f00:1",
        "2001:db8::1",
    ],
)
async def test_an_address_that_is_not_global_is_refused(address: str) -> None:
    with pytest.raises(EgressRefused, match="not a global address; allow it with VERSIONER_WEB"):
        await checked("https://hooks.example/hook", [address])


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "::ffff:0.0.0.0"])
async def test_the_unspecified_address_is_refused_even_when_allowed(address: str) -> None:
    with pytest.raises(EgressRefused, match="unspecified"):
        await checked("https://hooks.example/", [address], AllowList.parse("0.0.0.0/0 ::/0"))


async def test_an_ipv4_mapped_global_address_is_called_over_ipv4() -> None:
    target = await checked("https://example.com/", ["::ffff:93.184.216.34"])

    assert target.addresses == ("93.184.216.34",)


async def test_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(EgressRefused, match=r"resolves to 10\.0\.0\.7"):
        await checked("https://example.com/", ["93.184.216.34", "10.0.0.7", "93.184.216.35"])


async def test_a_host_without_addresses_is_refused() -> None:
    with pytest.raises(EgressRefused, match="no address"):
        await checked("https://example.com/", [])


async def test_a_host_that_does_not_resolve_is_not_connected() -> None:
    with pytest.raises(NotConnected, match="did not resolve"):
        await check("https://nowhere.test/", FakeResolver({}), NOBODY)


@pytest.mark.parametrize(
    ("url", "addresses", "allow"),
    [
        ("http://hooks.internal/", ["169.254.169.254"], "hooks.internal 169.254.0.0/16"),
        ("http://hooks.internal/", ["::ffff:169.254.169.254"], "169.254.0.0/16"),
        ("http://hooks.internal/", ["64:ff9b::a9fe:a9fe"], "64:ff9b::/96"),
        ("http://hooks.internal/", ["fd00:ec2::254"], "hooks.internal fd00::/8"),
        ("http://hooks.internal/", ["100.100.100.200"], "100.64.0.0/10"),
        ("http://hooks.internal/", ["168.63.129.16"], ""),
        ("http://169.254.169.254/latest/meta-data/", [], "169.254.0.0/16"),
        ("http://metadata.google.internal/", ["93.184.216.34"], ""),
        ("http://METADATA/", ["93.184.216.34"], ""),
    ],
)
async def test_metadata_is_refused_even_when_allowed(
    url: str, addresses: list[str], allow: str
) -> None:
    with pytest.raises(EgressRefused, match="metadata"):
        await checked(url, addresses, AllowList.parse(allow))


async def test_an_allowed_host_passes_with_private_addresses() -> None:
    target = await checked(
        "http://HOOKS.internal.:8080/x", ["10.1.2.3", "fd12::3"], AllowList.parse("hooks.internal")
    )

    assert target.addresses == ("10.1.2.3", "fd12::3")
    assert target.authority == "hooks.internal:8080"


async def test_an_allowed_host_does_not_open_another_host_at_the_same_address() -> None:
    with pytest.raises(EgressRefused, match="not a global address"):
        await checked("http://other.internal/", ["10.1.2.3"], AllowList.parse("hooks.internal"))


@pytest.mark.parametrize(
    ("address", "allow", "connected"),
    [
        ("10.1.2.3", "10.0.0.0/8", "10.1.2.3"),
        ("::ffff:10.1.2.3", "10.0.0.0/8", "10.1.2.3"),
        ("fd12:0::3", "fd12::/16", "fd12::3"),
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("::1", "[::1]", "::1"),
    ],
)
async def test_an_allowed_network_passes(address: str, allow: str, connected: str) -> None:
    target = await checked("http://hooks.internal/", [address], AllowList.parse(allow))

    assert target.addresses == (connected,)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@example.com/",
        "https://token@example.com/",
        "https://example.com\\@127.0.0.1/",
    ],
)
async def test_userinfo_is_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="user name or password"):
        await checked(url, ["93.184.216.34"])


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "example.com/"]
)
async def test_only_http_and_https_are_called(url: str) -> None:
    with pytest.raises(EgressRefused, match="only http and https"):
        await check(url, FakeResolver({}), NOBODY)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http:///path", "no host"),
        ("http://example.com:0/", "not a TCP port"),
        ("http://[::1/", "valid"),
    ],
)
async def test_a_url_without_a_usable_host_is_refused(url: str, reason: str) -> None:
    with pytest.raises(EgressRefused, match=reason):
        await check(url, FakeResolver({}), NOBODY)


async def test_a_literal_global_ip_passes_without_resolving() -> None:
    resolver = FakeResolver({})

    target = await check("http://93.184.216.34:8080/hook", resolver, NOBODY)

    assert target.addresses == ("93.184.216.34",)
    assert resolver.asked == []
    assert target.authority == "93.184.216.34:8080"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://10.0.0.1/"],
)
async def test_a_literal_private_ip_is_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="is not a global address"):
        await check(url, FakeResolver({}), NOBODY)


async def test_secrets_in_the_url_stay_out_of_reasons_and_reprs() -> None:
    url = "https://hooks.example/services/T0/B0/s3cret?token=s3cret"
    with pytest.raises(EgressRefused) as refused:
        await checked(url, ["10.0.0.1"])
    target = await checked(url, ["93.184.216.34"])

    assert "s3cret" not in str(refused.value)
    assert "s3cret" not in repr(target)
    assert target.origin == "https://hooks.example"


async def test_the_system_resolver_answers_literal_addresses() -> None:
    assert await SystemResolver().resolve("127.0.0.1", 80) == ["127.0.0.1"]


# ---- the allow-list


def test_the_allow_list_takes_hosts_addresses_and_networks() -> None:
    allow = AllowList.parse(" hooks.internal, 10.0.0.0/8  127.0.0.1,fd00::/8\nHooks.Other. ")

    assert allow.allows_host("HOOKS.internal.")
    assert allow.allows_host("hooks.other")
    assert not allow.allows_host("internal")
    assert allow.allows_address("10.200.0.1")
    assert allow.allows_address("::ffff:10.200.0.1")
    assert allow.allows_address("127.0.0.1")
    assert not allow.allows_address("127.0.0.2")
    assert allow.allows_address("fd00::1")
    assert not allow.allows_address("fc00::1")


def test_an_empty_allow_list_allows_nothing() -> None:
    allow = AllowList.parse("  ")

    assert allow == AllowList()
    assert not allow.allows_host("localhost")
    assert not allow.allows_address("127.0.0.1")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.1/8", "not a CIDR"),
        ("10.0.0.0/33", "not a CIDR"),
        ("*.example.com", "not an exact host name"),
        ("hooks.internal:8080", "not an exact host name"),
        ("user@hooks.internal", "not an exact host name"),
        ("bücher.de", "xn--"),
        ("169.254.169.254", "metadata"),
        ("metadata.google.internal", "metadata"),
    ],
)
def test_a_bad_allow_list_entry_is_refused_by_name(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="VERSIONER_WEBHOOK_ALLOW_HOSTS") as refused:
        AllowList.parse(f"hooks.internal, {text}")

    assert reason in str(refused.value)


# ---- sending


async def test_the_request_goes_to_the_checked_address_with_the_real_host(
    egress: Egress, hooks: HookServer
) -> None:
    target = await egress.check(f"http://hooks.test:{hooks.port}/hook?sig=1")

    response = await egress.send(
        target, "POST", {"Content-Type": "application/json", "Host": "evil.test"}, b'{"a":1}'
    )

    assert response.status == 200
    assert response.body == b"thanks"
    assert not response.truncated
    assert response.headers["x-receiver"] == "yes"
    assert response.address == "127.0.0.1"
    assert hooks.seen == [Seen("POST", "/hook?sig=1", f"hooks.test:{hooks.port}", b'{"a":1}')]


async def test_a_redirect_is_answered_not_followed(egress: Egress, hooks: HookServer) -> None:
    target = await egress.check(f"http://hooks.test:{hooks.port}/moved")

    response = await egress.send(target, "POST", {}, b"{}")

    assert response.status == 302
    assert response.headers["location"] == "/hook"
    assert [seen.path for seen in hooks.seen] == ["/moved"]


async def test_a_large_body_is_cut_at_the_bound(egress: Egress, hooks: HookServer) -> None:
    target = await egress.check(f"http://hooks.test:{hooks.port}/large")

    response = await egress.send(target, "GET", {}, max_response_bytes=1000)

    assert response.body == b"x" * 1000
    assert response.truncated


async def test_a_receiver_that_never_answers_loses_the_connection(
    egress: Egress, silent_port: int
) -> None:
    target = await egress.check(f"http://hooks.test:{silent_port}/hook")
    started = time.monotonic()

    with pytest.raises(ConnectionLost, match=r"hooks\.test at 127\.0\.0\.1"):
        await egress.send(target, "POST", {}, b"{}", timeout=0.2)

    assert time.monotonic() - started < 1


async def test_the_total_deadline_bounds_a_slow_receiver(egress: Egress, silent_port: int) -> None:
    target = await egress.check(f"http://hooks.test:{silent_port}/hook")

    with pytest.raises(ConnectionLost, match=r"no answer within 0\.2 s"):
        await egress.send(target, "POST", {}, b"{}", timeout=Timeouts(read=5, total=0.2))


async def test_a_closed_port_is_not_connected(egress: Egress, closed_port: int) -> None:
    target = await egress.check(f"http://hooks.test:{closed_port}/hook")

    with pytest.raises(NotConnected, match=r"could not connect to hooks\.test at 127\.0\.0\.1"):
        await egress.send(target, "POST", {}, b"{}")


# ---- TLS: the connection goes to the address, the certificate is checked for the name


@dataclass(frozen=True)
class Pki:
    """A private CA, and a server context holding a certificate for `hooks.test`."""

    client: ssl.SSLContext
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made on the spot; EC keys keep it fast."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egress test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("pki")
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
    )
    return Pki(client=client, server=server)


@pytest.fixture
async def tls_hooks(pki: Pki) -> AsyncIterator[HookServer]:
    """A hooks behind TLS, its certificate naming `hooks.test`."""
    running = HookServer()
    await running.start(tls=pki.server)
    yield running
    await running.close()


async def test_https_verifies_the_host_name_at_the_checked_address(
    pki: Pki, tls_hooks: HookServer
) -> None:
    resolver = FakeResolver({"hooks.test": ["127.0.0.1"]})
    async with Egress(resolver, LOCAL, Timeouts.within(2), tls=pki.client) as egress:
        target = await egress.check(f"https://hooks.test:{tls_hooks.port}/hook")
        response = await egress.send(target, "POST", {}, b"{}")

    assert response.status == 200
    assert [seen.host for seen in tls_hooks.seen] == [f"hooks.test:{tls_hooks.port}"]


async def test_https_to_a_name_the_certificate_does_not_carry_is_not_connected(
    pki: Pki, tls_hooks: HookServer
) -> None:
    resolver = FakeResolver({"other.test": ["127.0.0.1"]})
    async with Egress(resolver, LOCAL, Timeouts.within(2), tls=pki.client) as egress:
        target = await egress.check(f"https://other.test:{tls_hooks.port}/hook")
        with pytest.raises(NotConnected, match="certificate"):
            await egress.send(target, "POST", {}, b"{}")

    assert tls_hooks.seen == []
