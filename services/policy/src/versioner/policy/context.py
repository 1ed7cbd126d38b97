"""What every policy operation gets: settings, the database, the clock, the outbox relay."""

from collections.abc import Callable
from dataclasses import dataclass, field

from versioner.policy.rules.snapshot import SnapshotCache
from versioner.policy.settings import PolicySettings
from versioner.policy.store.clock import Clock, SystemClock
from versioner.policy.store.db import Database
from versioner.policy.store.hot_path import NameCache


@dataclass
class PolicyContext:
    """Policy's resources, built in the app's lifespan (tests build their own)."""

    settings: PolicySettings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    names: NameCache = field(default_factory=NameCache)
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)
    # Called after a commit that wrote outbox rows; the relay replaces it when it runs.
    wake_relay: Callable[[], None] = field(default=lambda: None)
