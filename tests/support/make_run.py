"""`scripts/run.py` (what `make run` starts) run by a test: in a scratch folder, on its own port
and broker prefix, its output collected as it comes."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import free_port
from tests.support.stack import delete_installation
from versioner.common.names import BrokerNames

ROOT = Path(__file__).resolve().parents[2]


def healthy(url: str) -> bool:
    """Whether ingest answers `/health` with 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Running:
    """`scripts/run.py` running, and what it printed so far (read as it comes: a full pipe
    would stall it)."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    lines: list[str]
    reader: threading.Thread

    def output(self) -> str:
        """Everything it printed, once it has stopped."""
        self.reader.join(timeout=10)
        return "".join(self.lines)


@contextmanager
def make_run(folder: Path, amqp_url: str, extra: dict[str, str] | None = None) -> Iterator[Running]:
    """`scripts/run.py` in `folder`, on its own port and prefix (and `extra` environment),
    once it has said the services are healthy (its banner); killed and its broker names
    deleted after."""
    port = free_port()
    prefix = f"vt-run-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "VERSIONER_HTTP_PORT": str(port),
        "VERSIONER_BROKER_PREFIX": prefix,
        "VERSIONER_AMQP_URL": amqp_url,
        **(extra or {}),
    }
    for name in (
        "VERSIONER_BOOTSTRAP_TOKEN",
        "VERSIONER_DATABASE_URL",
        "VERSIONER_NOTIFIER_DATABASE_URL",
    ):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not any("Versioner is running at" in line for line in lines):
            assert process.poll() is None, ("run.py stopped before it was healthy", lines[-20:])
            assert time.monotonic() < deadline, ("not healthy in 60 s", lines[-20:])
            time.sleep(0.2)
        assert healthy(url)
        yield Running(url, env, process, lines, reader)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        asyncio.run(delete_installation(amqp_url, BrokerNames(prefix=prefix, lanes=8)))
