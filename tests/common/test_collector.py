"""`collector.settle()`: what a service has built is frozen and the young generation grows
before a pass (run in a process of its own: freezing the test process would outlive the test)."""

import json
import subprocess
import sys

from versioner.common import collector


def test_settle_freezes_what_exists_and_collects_less_often() -> None:
    script = (
        "import gc, json\n"
        "from versioner.common import collector\n"
        "before = gc.get_freeze_count()\n"
        "collector.settle()\n"
        "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    before, frozen, threshold = json.loads(done.stdout)
    assert before == 0
    assert frozen > 1_000  # the interpreter's own objects and what was imported
    assert threshold == [collector.YOUNG, collector.OLDER, collector.OLDER]
