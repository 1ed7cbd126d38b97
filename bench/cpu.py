"""CPU of each process per deployment (`started` + `completed`), the way issue 8 measures it.

    uv run python bench/cpu.py [--seconds 15] [--connections 32] [--mode deploy|completed]
                               [--database-url URL] [--spy policy,ingest]
                               [--against CHECKOUT] [--rounds N] [--together]

Starts the product with its own `make run` (fresh SQLite files, a fresh broker prefix, no
notification channel), deploys once to each of 256 products x 4 environments, then drives it
with wrk and `../shared/bench/gate_blackbox.lua` (the gate benchmark's load: each connection
sends `started`, then the same deployment's `completed`) and prints requests/s, latencies and
the CPU milliseconds each process spent per deployment: ingest, policy, the notifier,
`make run`'s own process and the RabbitMQ server. `--spy` records py-spy profiles of those
services (raw collapsed stacks under `var/cpu/`). The gate's verdict is
`../shared/bench/gate`; this is the tool to see where the CPU goes between two of its runs.
Needs wrk (`apt-get install wrk`) and, for `--spy`, py-spy; run from a checkout that has no
`../shared` beside it, it needs `GATE_LUA` (the gate's `gate_blackbox.lua`).

`--against CHECKOUT` (another commit's worktree: `git worktree add /tmp/old <commit>`) starts
that checkout's `make run` beside this one and measures the two in turn, `--rounds` times, the
order swapped every round, then prints each side's medians. This host's speed drifts within
minutes (the same code measured 280–372 deployments/s in three phases in a row, issue 11):
phases of two stacks alternated a few seconds apart see the same host, runs minutes apart
do not. The last line is each round's ratio of the two and their median. Two stacks of the
same code do not measure 1.00 (0.95 once, issue 11): run it both ways round (each checkout
as `this` once) and take both runs' pairs together.

`--together` loads the two stacks at once instead, each with `--connections` of its own, and
compares their CPU per deployment (the product's processes; the broker serves both and is left
out): both see the same host at every moment, and a run of the same code against itself
measures 1.00 within ~1 % (1.009 and 1.000 in two runs of 8 rounds, issue 11), where the
throughput of alternated phases moves ±5 %. This is the instrument for a change of a few per
cent. The lines "of which in the kernel" tell system time from user time.
"""

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aio_pika

from versioner.common.names import BrokerNames

ROOT = Path(__file__).resolve().parent.parent
# The gate's load script: `../shared/bench` beside this checkout, or `GATE_LUA` (a checkout
# elsewhere, a worktree under /tmp say).
LUA = Path(os.environ.get("GATE_LUA") or ROOT.parent / "shared" / "bench" / "gate_blackbox.lua")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROLES = ("ingest", "policy", "notifier")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _cpu(group: int) -> dict[int, tuple[str, float, float]]:
    """CPU seconds so far (all, and in the kernel) of the product's processes (by role) and of
    the RabbitMQ server."""
    found: dict[int, tuple[str, float, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        role = None
        if stat[2] == str(group):
            role = next((r for r in ROLES if f"versioner-{r}" in command), None)
            role = role or ("make-run" if "scripts/run.py" in command else None)
        elif "beam.smp" in command and "rabbit boot" in command:
            role = "rabbitmq"
        if role:
            user, system = int(stat[11]) / CLOCK_TICKS, int(stat[12]) / CLOCK_TICKS
            found[int(entry)] = (role, user + system, system)
    return found


class _Load:
    """wrk driving one stack with the gate's load for a phase (started at once)."""

    def __init__(
        self, url: str, key: str, mode: str, connections: int, seconds: float, work: Path
    ) -> None:
        # Each phase its own results and fresh versions (the lua names them by phase).
        phase = len(list(work.glob("done-*")))
        self.out, self.done = work / f"{mode}-{phase}.json", work / f"done-{phase}"
        self.done.mkdir()
        self.connections = connections
        env = {
            **os.environ,
            "GBB_MODE": mode,
            "GBB_THREADS": str(connections),
            "GBB_QUOTA": "0",
            "GBB_DURATION_S": str(seconds),
            "GBB_PHASE": str(phase),
            "GBB_PRODUCTS": "256",
            "GBB_ENVS": "dev,test,staging,production",
            "GBB_KEY": key,
            "GBB_PATH": "/deployment-events/",
            "GBB_OUT": str(self.out),
            "GBB_DONE_DIR": str(self.done),
        }
        command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{int(seconds) + 200}s"]
        self.wrk = subprocess.Popen(
            [*command, "--timeout", "30s", "-s", str(LUA), url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.deadline = time.monotonic() + seconds + 120

    def finished(self) -> bool:
        """Whether every connection has stopped (or wrk died, or the phase overran)."""
        return (
            len(os.listdir(self.done)) >= self.connections
            or self.wrk.poll() is not None
            or time.monotonic() > self.deadline
        )

    def results(self) -> Any:
        """Stop wrk; what its connections measured."""
        while not self.finished():
            time.sleep(0.05)
        self.wrk.send_signal(signal.SIGINT)
        self.wrk.wait()
        return json.loads(self.out.read_text())


def _report(
    data: Any, mode: str, wall: float, spent: dict[str, float], kernel: dict[str, float]
) -> tuple[float, float]:
    """Print a phase's figures; its requests/s and CPU ms per unit."""
    latencies: dict[str, list[float]] = {"started": [], "completed": []}
    units = 0
    for thread in data["threads"]:
        units += thread["units"]
        for kind, values in latencies.items():
            values.extend(thread["lat_ms"][kind])
    requests = sum(len(v) for v in latencies.values())
    print(f"{mode}: {requests / wall:.0f} requests/s over {wall:.1f} s")
    for kind, values in latencies.items():
        if values:
            values.sort()
            p50, p99 = values[len(values) // 2], values[int(len(values) * 0.99)]
            print(f"  {kind}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, n={len(values)}")
    per = units if mode == "deploy" else len(latencies["completed"])

    def by_role(seconds: dict[str, float]) -> str:
        return " ".join(f"{role}={1000 * cpu / per:.2f}" for role, cpu in sorted(seconds.items()))

    total = 1000 * sum(spent.values()) / per
    unit = "deployment" if mode == "deploy" else "fact"
    print(f"  CPU ms per {unit}: {by_role(spent)} total={total:.2f}")
    print(f"    of which in the kernel: {by_role(kernel)}")
    return requests / wall, total


class _Phase:
    """One phase of one stack: its load, its profiles, the CPU its processes spend meanwhile."""

    def __init__(self, stack: "Stack", args: argparse.Namespace, spy_as: str) -> None:
        self.stack, self.mode = stack, args.mode
        profiles = ROOT / "var" / "cpu"
        profiles.mkdir(parents=True, exist_ok=True)
        self.before, self.started = _cpu(stack.product.pid), time.monotonic()
        record = ["py-spy", "record", "--nonblocking", "-d", str(int(args.seconds)), "-r", "200"]
        self.spies = [
            subprocess.Popen(
                [*record, "-f", "raw", "-p", str(pid), "-o", str(profiles / f"{spy_as}{role}.txt")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, (role, _, _) in self.before.items()
            if role in args.spy.split(",")
        ]
        self.load = _Load(
            stack.url, stack.key, args.mode, args.connections, args.seconds, stack.work
        )

    def end(self) -> tuple[float, float]:
        """Wait for the load; print and return requests/s and CPU ms per unit."""
        data = self.load.results()
        wall, after = time.monotonic() - self.started, _cpu(self.stack.product.pid)
        for spy in self.spies:
            spy.wait()
        spent: dict[str, float] = {}
        kernel: dict[str, float] = {}
        for pid, (role, cpu, system) in after.items():
            if role == "rabbitmq" and self.stack.shares_broker:
                continue  # both stacks' messages: neither's own
            _, cpu_before, system_before = self.before.get(pid, (role, 0.0, 0.0))
            spent[role] = spent.get(role, 0.0) + cpu - cpu_before
            kernel[role] = kernel.get(role, 0.0) + system - system_before
        if self.stack.shares_broker:
            print(f"[{self.stack.label}]", end=" ")
        return _report(data, self.mode, wall, spent, kernel)


class Stack:
    """One checkout's `make run`, on its own port, broker prefix and database."""

    def __init__(self, checkout: Path, label: str, database_url: str | None) -> None:
        self.label = label
        self.work = Path(tempfile.mkdtemp(prefix=f"versioner-cpu-{label}-"))
        port, self.token = _free_port(), f"pat_cpu_{secrets.token_hex(16)}"
        self.url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("VERSIONER_", "MAKE"))}
        self.env.update(
            VERSIONER_HTTP_PORT=str(port),
            VERSIONER_POLICY_METRICS_PORT=str(_free_port()),
            VERSIONER_NOTIFIER_METRICS_PORT=str(_free_port()),
            VERSIONER_BROKER_PREFIX=f"cpu{secrets.token_hex(4)}",
            VERSIONER_DATABASE_URL=database_url or f"sqlite+aiosqlite:///{self.work}/policy.db",
            VERSIONER_NOTIFIER_DATABASE_URL=f"sqlite+aiosqlite:///{self.work}/notifier.db",
            VERSIONER_BOOTSTRAP_TOKEN=self.token,
            VERSIONER_SLACK_API_URL="http://127.0.0.1:9/api/",
        )
        with open(self.work / "product.log", "w") as log:
            self.product = subprocess.Popen(
                ["make", "run"],
                cwd=checkout,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.key = ""
        # Measured beside another stack at once: the broker's CPU is not this stack's alone.
        self.shares_broker = False

    def prime(self, connections: int) -> None:
        """Wait for `/health`, make an API key, deploy once to every pair."""
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        self.key = _post(f"{self.url}/api-keys/", {"name": "cpu"}, self.token)["key"]
        _Load(self.url, self.key, "prime", connections, 0, self.work).results()

    def measure(self, args: argparse.Namespace, spy_as: str) -> tuple[float, float]:
        """One phase: requests/s and CPU ms per unit (a deployment, or a fact), reported."""
        return self.begin(args, spy_as).end()

    def begin(self, args: argparse.Namespace, spy_as: str = "") -> "_Phase":
        """Start a phase's load (and profiles); `end()` waits for it and reports."""
        return _Phase(self, args, spy_as)

    def stop(self) -> None:
        """Stop `make run` and forget the run's queues and exchanges."""
        os.killpg(self.product.pid, signal.SIGINT)
        try:
            self.product.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.product.pid, signal.SIGKILL)
        asyncio.run(_forget(self.env["VERSIONER_BROKER_PREFIX"]))


def main() -> None:
    """Start, load, measure, stop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mode", choices=("deploy", "completed"), default="deploy")
    parser.add_argument("--database-url", help="policy's database (default: a fresh SQLite file)")
    parser.add_argument("--spy", default="", help="services to profile with py-spy, e.g. policy")
    parser.add_argument("--against", type=Path, help="another checkout, measured in turn")
    parser.add_argument("--rounds", type=int, help="phases per checkout (default 1, 4 against)")
    parser.add_argument(
        "--together",
        action="store_true",
        help="with --against: load both stacks at once, each with --connections of its own, "
        "so both see the same host at every moment (the broker's CPU is then left out)",
    )
    args = parser.parse_args()
    if not LUA.is_file():
        parser.error(f"no gate load script at {LUA}: set GATE_LUA to gate_blackbox.lua")
    if args.against is not None and args.database_url:
        parser.error("--against needs a database of each stack's own: leave --database-url out")

    if args.together and args.against is None:
        parser.error("--together needs --against")
    stacks = [Stack(ROOT, "this", args.database_url)]
    if args.against is not None:
        stacks.append(Stack(args.against.resolve(), "against", None))
    for stack in stacks:
        stack.shares_broker = args.together
    rounds = args.rounds or (4 if args.against is not None else 1)
    figures: dict[str, list[tuple[float, float]]] = {stack.label: [] for stack in stacks}
    try:
        for stack in stacks:
            stack.prime(args.connections)
        for turn in range(rounds):
            ordered = stacks if turn % 2 == 0 else stacks[::-1]
            if args.together:
                time.sleep(3)  # what the last phase queued drains
                print(f"[round {turn + 1}, both at once]")
                phases = [
                    (stack, stack.begin(args, f"{stack.label}-{turn + 1}-")) for stack in ordered
                ]
                for stack, phase in phases:
                    figures[stack.label].append(phase.end())
                continue
            for stack in ordered:
                time.sleep(3)  # what the last phase queued drains
                print(f"[{stack.label}, round {turn + 1}]")
                spy_as = f"{stack.label}-{turn + 1}-" if len(stacks) > 1 else ""
                figures[stack.label].append(stack.measure(args, spy_as))
    finally:
        for stack in stacks:
            stack.stop()
    if len(stacks) > 1:
        for label, measured in figures.items():
            rates, cpus = zip(*measured, strict=True)
            print(
                f"{label}: median {statistics.median(rates):.0f} requests/s, "
                f"{statistics.median(cpus):.2f} CPU ms per unit ({len(measured)} phases)"
            )
        # Each round's two phases ran a few seconds apart (or at once): their ratio sees one
        # host speed.
        pairs = list(zip(figures["this"], figures["against"], strict=True))
        for name, ratios in (
            ("requests/s", [mine[0] / theirs[0] for mine, theirs in pairs]),
            ("CPU per unit", [mine[1] / theirs[1] for mine, theirs in pairs]),
        ):
            print(
                f"this/against {name} by round: {' '.join(f'{r:.3f}' for r in ratios)}; "
                f"median {statistics.median(ratios):.3f}"
            )


async def _forget(prefix: str) -> None:
    """Delete the run's queues and exchanges from the broker."""
    names = BrokerNames(prefix=prefix)
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        for queue in names.queues:
            await channel.queue_delete(queue)
        for exchange in names.exchanges:
            await channel.exchange_delete(exchange)


if __name__ == "__main__":
    main()
