"""`make run`: start policy, notifier and ingest on one machine, print where and how, stop on Ctrl-C.

Secrets that have no value in the environment are generated once into `./var/` and reused:
`VERSIONER_SECRET_KEY` (`var/secret-key`) and `VERSIONER_BOOTSTRAP_TOKEN`
(`var/bootstrap-token`, which becomes the first admin's token on first use).
"""

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
import urllib.request
from pathlib import Path

VAR = Path("var")
SERVICES = ("policy", "notifier", "ingest")
COLOURS = {"policy": "\033[35m", "notifier": "\033[36m", "ingest": "\033[32m"}
RESET = "\033[0m"


def _secret(env: dict[str, str], name: str, path: Path, make: str) -> str:
    if env.get(name):
        return env[name]
    if not path.exists():
        path.write_text(make + "\n")
        path.chmod(0o600)
    env[name] = path.read_text().strip()
    return env[name]


def environment() -> dict[str, str]:
    """The services' environment: the caller's, plus generated secrets."""
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    _secret(env, "VERSIONER_SECRET_KEY", VAR / "secret-key", secrets.token_urlsafe(32))
    _secret(
        env,
        "VERSIONER_BOOTSTRAP_TOKEN",
        VAR / "bootstrap-token",
        f"pat_{secrets.token_urlsafe(30)}",
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Read by a person on a terminal: text lines; piped or redirected, the services' JSON.
    if sys.stdout.isatty():
        env.setdefault("VERSIONER_LOG_FORMAT", "text")
    return env


# Each service's own metrics port (ingest's is its HTTP port): `VERSIONER_POLICY_METRICS_PORT`
# and `VERSIONER_NOTIFIER_METRICS_PORT` choose them here, where all three share one machine.
METRICS_PORTS = {"policy": "9101", "notifier": "9102"}


def service_environment(name: str, env: dict[str, str]) -> dict[str, str]:
    """One service's environment: the shared one, with its own metrics port."""
    if name not in METRICS_PORTS:
        return env
    port = env.get(f"VERSIONER_{name.upper()}_METRICS_PORT", METRICS_PORTS[name])
    return {**env, "VERSIONER_METRICS_PORT": port}


def base_url(env: dict[str, str]) -> str:
    """Where ingest answers."""
    host = env.get("VERSIONER_HTTP_HOST", "127.0.0.1")
    port = env.get("VERSIONER_HTTP_PORT", "8000")
    return env.get("VERSIONER_PUBLIC_URL") or f"http://{host}:{port}"


# What the relay reads of a service's output at once.
_CHUNK = 64 * 1024


async def _pipe(name: str, stream: asyncio.StreamReader) -> None:
    """Relay a service's output, each line prefixed with its name: whatever has come is read
    at once and written in one write (a wake-up and a write per line cost the gate's path as
    much as writing the line in the service, issue 11)."""
    colour = COLOURS[name] if sys.stdout.isatty() else ""
    reset = RESET if colour else ""
    prefix = f"{colour}{name:>8}{reset} | "
    partial = b""
    while chunk := await stream.read(_CHUNK):
        *lines, partial = (partial + chunk).split(b"\n")
        if lines:
            sys.stdout.write(
                "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines)
            )
            sys.stdout.flush()
    if partial:
        sys.stdout.write(f"{prefix}{partial.decode(errors='replace')}\n")
        sys.stdout.flush()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def _wait_healthy(
    url: str, supervisors: list[asyncio.Task[str | None]], seconds: float
) -> bool:
    """Whether /health answers 200 in time (a service that exits meanwhile is started again
    by its supervisor; one that gives up ends the wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(task.done() for task in supervisors):
            return False
        if await asyncio.to_thread(_healthy, url):
            return True
        await asyncio.sleep(0.5)
    return False


def _banner(url: str, token: str) -> str:
    return f"""
  Versioner is running at {url}   (API docs: {url}/docs)
  Admin token: {token}
    (the bootstrap token: it becomes the first admin's token when first used)

  Try it:
    export VERSIONER_API_URL={url}
    export VERSIONER_API_KEY=$(uv run versioner admin api-keys create ci --api-key {token})
    uv run versioner track build --product api --version 1.0.0 --status completed
    uv run versioner track deployment --product api --version 1.0.0 --environment production --status started
    uv run versioner track deployment --product api --version 1.0.0 --environment production --status completed
    curl -s -H "Authorization: Bearer $VERSIONER_API_KEY" {url}/state/

  Ctrl-C stops all three services.
"""


async def _stop(processes: dict[str, asyncio.subprocess.Process]) -> None:
    for process in processes.values():
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes.values())), timeout=15)
    except TimeoutError:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()


# A service that exits by itself is started again after a pause that doubles (as compose's
# `restart: unless-stopped` would); one that keeps failing within `_EARLY_S` of its start
# `_GIVE_UP` times in a row is a setup problem, and everything stops with its log on screen.
_RESTART_S = 1.0
_RESTART_MAX_S = 30.0
_EARLY_S = 10.0
_GIVE_UP = 5


class _Service:
    """One service process, started again when it exits by itself."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.early_exits = 0
        self.pipe: asyncio.Task[None] | None = None

    async def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        self.process = await asyncio.create_subprocess_exec(
            str(bin_dir / f"versioner-{self.name}"),
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.started_at = time.monotonic()
        assert self.process.stdout is not None
        self.pipe = asyncio.create_task(_pipe(self.name, self.process.stdout))

    async def supervise(self, stop: asyncio.Event) -> str | None:
        """Restart the service whenever it exits, until `stop`; the reason to stop all, if
        it keeps failing."""
        while not stop.is_set():
            assert self.process is not None
            exited = asyncio.create_task(self.process.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                exited.cancel()
                return None
            code = self.process.returncode
            quick = time.monotonic() - self.started_at < _EARLY_S
            self.early_exits = self.early_exits + 1 if quick else 0
            if self.early_exits >= _GIVE_UP:
                return f"{self.name} exited {self.early_exits} times right after starting"
            pause = min(_RESTART_S * 2 ** max(self.early_exits - 1, 0), _RESTART_MAX_S)
            print(
                f"\n{self.name} exited (code {code}); starting it again in {pause:.0f} s",
                flush=True,
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
                return None
            except TimeoutError:
                await self.start()
        return None


async def main() -> int:
    """Run until Ctrl-C, starting again any service that exits by itself."""
    env = environment()
    url = base_url(env)
    services = {name: _Service(name, service_environment(name, env)) for name in SERVICES}
    for service in services.values():
        await service.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    supervisors = [asyncio.create_task(s.supervise(stop)) for s in services.values()]
    healthy = await _wait_healthy(url, supervisors, 90)
    if healthy:
        print(_banner(url, env["VERSIONER_BOOTSTRAP_TOKEN"]), flush=True)
    elif not any(task.done() for task in supervisors):
        print(f"\nVersioner did not become healthy at {url}/health; stopping.", flush=True)
        stop.set()

    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *supervisors], return_when=asyncio.FIRST_COMPLETED)
    reasons = [task.result() for task in done if task is not stopper and task.result()]
    stop.set()
    await asyncio.gather(*supervisors, return_exceptions=True)
    print("\nstopping Versioner…", flush=True)
    current = {n: s.process for n, s in services.items() if s.process is not None}
    await _stop(current)
    await asyncio.gather(*(s.pipe for s in services.values() if s.pipe), return_exceptions=True)
    if reasons:
        print(f"stopped because {'; '.join(str(r) for r in reasons)}", flush=True)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
