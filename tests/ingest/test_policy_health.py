"""When ingest takes policy for down: only when nothing at all came back from it."""

from versioner.ingest.gateway import PolicyHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_unanswered_request_with_nothing_heard_since_means_down() -> None:
    clock = Clock()
    health = PolicyHealth(clock)
    health.answered()
    clock.now += 1
    sent = clock()
    clock.now += 1

    health.silent(sent)

    assert health.down


def test_a_ping_stuck_behind_a_backlog_while_the_lanes_answer_is_no_outage() -> None:
    clock = Clock()
    health = PolicyHealth(clock)
    sent = clock()
    clock.now += 0.5
    health.answered()  # a lane's reply, while the ping waits in the management queue
    clock.now += 0.5

    health.silent(sent)

    assert not health.down


def test_any_answer_ends_an_outage() -> None:
    clock = Clock()
    health = PolicyHealth(clock)
    health.silent(clock())
    assert health.down

    clock.now += 1
    health.answered()

    assert not health.down
