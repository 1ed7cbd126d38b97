"""Versioner's services as real processes, to kill with -9 and start again.

`python -m versioner.policy|notifier|ingest` under this interpreter, each configured only by
its environment, as compose or Kubernetes would: one broker (a node of the test's own), one
prefix, the databases the test gives (SQLite files or PostgreSQL databases), a port of its
own for each ingest. Several replicas of a service are `policy`, `policy-2`, …; each process
writes its output to `<folder>/<name>.log` (every start appended), and the logs' ends are
printed when the block fails. Leaving the block kills every process it started and removes
the installation's queues and exchanges; a test run that dies takes its processes with it.

`kill9(name)` and `start(name)` stop and start one process. A process is ready when it says
so (policy and the notifier log a line once they consume; ingest answers `/health/live`); the
service answers again when ingest's `/health` is 200 (broker up, policy answering a ping)
or, for the notifier, when its RPC is answered (`answering`).
"""

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.services import free_port
from tests.support.stack import BOOTSTRAP_TOKEN, SECRET_KEY, delete_installation
from versioner.common.names import BrokerNames

# How long a process may take to say it is ready (imports, migrations, connections) on a
# loaded CI host: a start takes 2–4 s on an idle 2-core machine.
READY_S = 90.0
LANES = 8
# What each service logs once it serves (policy and the notifier after consuming their
# queues; ingest's answer on /health/live says it for ingest).
_READY_LINE = {"policy": b"policy ready:", "notifier": b"notifier ready"}
# prctl(2): the signal a process gets when its parent goes.
_PR_SET_PDEATHSIG = 1
# Never inherited: the test says where everything is.
_DROPPED = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass
class ServiceProcess:
    """One process of one service: its environment, its log, its port (ingest)."""

    name: str
    service: str
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: "subprocess.Popen[bytes] | None" = None
    # Where the current start's output begins in the log.
    log_offset: int = 0
    starts: int = 0
    started_at: float = 0.0

    @property
    def url(self) -> str:
        """Where this ingest answers."""
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> bytes:
        """What the current start has written so far."""
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read()


def _die_with_parent() -> None:
    """In the child, before it runs Python: killed when the test process goes, however it
    goes (itself killed, say), so no service outlives its test. The parent is the thread that
    started the child: the event loop's, which lives as long as the test."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Installation:
    """Policy, notifier and ingest processes sharing one broker prefix and the databases."""

    folder: Path
    amqp_url: str
    prefix: str
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(trust_env=False))

    @property
    def names(self) -> BrokerNames:
        """The installation's names on the broker."""
        return BrokerNames(prefix=self.prefix, lanes=LANES)

    def of(self, service: str) -> list[ServiceProcess]:
        """The replicas of one service, in order."""
        return [p for p in self.processes.values() if p.service == service]

    @property
    def ingest_urls(self) -> list[str]:
        """Every ingest replica's base URL."""
        return [p.url for p in self.of("ingest")]

    @property
    def url(self) -> str:
        """The first ingest's base URL."""
        return self.ingest_urls[0]

    def add(self, service: str, env: Mapping[str, str]) -> ServiceProcess:
        """Declare one more replica of `service` (started by `start`)."""
        count = len(self.of(service))
        name = service if count == 0 else f"{service}-{count + 1}"
        port = free_port() if service == "ingest" else None
        own = dict(env)
        if port is not None:
            own["VERSIONER_HTTP_PORT"] = str(port)
        process = ServiceProcess(name, service, own, self.folder / f"{name}.log", port)
        self.processes[name] = process
        return process

    def spawn(self, name: str) -> None:
        """Start a process, not waiting for it to be ready."""
        process = self.processes[name]
        assert not process.running, f"{name} is running already"
        process.starts += 1
        with process.log.open("ab") as log:
            log.write(f"--- start {process.starts} of {name}\n".encode())
            log.flush()
            process.log_offset = log.tell()
            process.popen = subprocess.Popen(
                [sys.executable, "-m", f"versioner.{process.service}"],
                cwd=self.folder,
                env=process.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a signal meant for the test run does not reach it.
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - it only calls prctl
            )
        process.started_at = time.monotonic()

    async def ready(self, name: str, timeout: float = READY_S) -> float:
        """Wait until the process serves; the moment (monotonic) it was seen ready."""
        process = self.processes[name]
        deadline = time.monotonic() + timeout
        while not await self._serves(process):
            if not process.running:
                raise AssertionError(f"{name} exited while starting:\n{self.tail(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready in {timeout:.0f} s:\n{self.tail(name)}")
            await asyncio.sleep(0.05)
        return time.monotonic()

    async def _serves(self, process: ServiceProcess) -> bool:
        if process.service != "ingest":
            return _READY_LINE[process.service] in process.output()
        try:
            answer = await self.http.get(f"{process.url}/health/live", timeout=2)
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    async def start(self, name: str, timeout: float = READY_S) -> float:
        """Start a process and wait until it serves; the moment it was seen ready."""
        self.spawn(name)
        return await self.ready(name, timeout)

    async def start_all(self) -> None:
        """Start every process (policy first: it migrates and creates the bootstrap admin)."""
        for process in self.of("policy")[:1]:
            await self.start(process.name)
        rest = [p.name for p in self.processes.values() if not p.running]
        for name in rest:
            self.spawn(name)
        await asyncio.gather(*(self.ready(name) for name in rest))
        await self.healthy()

    def kill9(self, name: str) -> float:
        """SIGKILL one process and reap it; the moment (monotonic) it was killed."""
        process = self.processes[name]
        assert process.popen is not None, f"{name} never started"
        assert process.running, f"{name} is not running"
        os.kill(process.popen.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        process.popen.wait()
        with process.log.open("ab") as log:
            log.write(f"--- {name} killed with SIGKILL\n".encode())
        return killed_at

    async def healthy(self, timeout: float = READY_S) -> float:
        """Wait until every running ingest's `/health` is 200 (broker up, policy answering a
        ping); the moment it was."""
        deadline = time.monotonic() + timeout
        for process in self.of("ingest"):
            while process.running:
                try:
                    answer = await self.http.get(f"{process.url}/health", timeout=5)
                    if answer.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{process.name} /health not 200:\n{self.tail()}")
                await asyncio.sleep(0.05)
        return time.monotonic()

    async def notifier_answers(self, timeout: float = READY_S) -> float:
        """Wait until the notifier answers its RPC (ingest lists the channels with the
        bootstrap admin's token: 503 while no notifier answers); the moment it did."""
        deadline = time.monotonic() + timeout
        while True:
            url = next(p.url for p in self.of("ingest") if p.running)
            try:
                answer = await self.http.get(
                    f"{url}/notification-channels/",
                    headers={"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"},
                    timeout=30,
                )
                if answer.status_code == 200:
                    return time.monotonic()
                assert answer.status_code == 503, answer.text
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the notifier does not answer:\n{self.tail('notifier')}")
            await asyncio.sleep(0.05)

    async def answering(self, name: str, timeout: float = READY_S) -> float:
        """Wait until the service of process `name` answers through the gateway (policy and
        ingest: `/health`; the notifier: its RPC); the moment it did."""
        if self.processes[name].service == "notifier":
            return await self.notifier_answers(timeout)
        return await self.healthy(timeout)

    def tail(self, name: str | None = None, lines: int = 60) -> str:
        """The end of one process's log, or of every one."""
        chosen = [self.processes[name]] if name else list(self.processes.values())
        parts = []
        for process in chosen:
            text = process.log.read_text(errors="replace") if process.log.exists() else ""
            parts.append(f"==== {process.name} ({process.log})\n")
            parts.append("\n".join(text.splitlines()[-lines:]) + "\n")
        return "".join(parts)

    def log_lines(self, name: str, needle: str) -> list[str]:
        """The lines of a process's log (every start) that contain `needle`."""
        text = self.processes[name].log.read_text(errors="replace")
        return [line for line in text.splitlines() if needle in line]

    async def close(self) -> None:
        """Kill every process still running (by its id) and remove the broker installation."""
        for process in self.processes.values():
            if process.popen is not None and process.running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        await self.http.aclose()
        with contextlib.suppress(Exception):  # the broker may be gone already
            await asyncio.wait_for(delete_installation(self.amqp_url, self.names), timeout=15)


def service_env(
    amqp_url: str,
    prefix: str,
    database_url: str,
    notifier_database_url: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """One environment every process of an installation starts from (each ingest adds its
    port): the caller's, without any `VERSIONER_*` or proxy variable of its own."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("VERSIONER_") and k not in _DROPPED
    }
    return env | {
        "PYTHONUNBUFFERED": "1",
        "VERSIONER_AMQP_URL": amqp_url,
        "VERSIONER_BROKER_PREFIX": prefix,
        "VERSIONER_POLICY_LANES": str(LANES),
        "VERSIONER_DATABASE_URL": database_url,
        "VERSIONER_NOTIFIER_DATABASE_URL": notifier_database_url,
        "VERSIONER_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "VERSIONER_SECRET_KEY": SECRET_KEY,
        # Several ingest replicas sign dashboard sessions alike.
        "VERSIONER_SESSION_SECRET": "session-secret-" + "s" * 24,
        "VERSIONER_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "VERSIONER_SLACK_API_URL": "http://127.0.0.1:9/api/",
        **(extra or {}),
    }


@asynccontextmanager
async def installation(
    folder: Path,
    amqp_url: str,
    database_url: str,
    notifier_database_url: str,
    *,
    policies: int = 1,
    notifiers: int = 1,
    ingests: int = 1,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Installation]:
    """The services as processes, started and healthy; every log's end printed on failure."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"vt-proc-{uuid.uuid4().hex[:8]}"
    env = service_env(amqp_url, prefix, database_url, notifier_database_url, extra_env)
    running = Installation(folder, amqp_url, prefix)
    for service, count in (("policy", policies), ("notifier", notifiers), ("ingest", ingests)):
        for _ in range(count):
            running.add(service, env)
    try:
        await running.start_all()
        yield running
    except BaseException:
        print(f"\nthe services' logs (ends):\n{running.tail()}")
        raise
    finally:
        await running.close()
