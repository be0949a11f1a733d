"""The batch worker: concurrent stores, finished and acknowledged in the order taken."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub.ingest.batcher import BatchWorker
from hub.metrics import HubMetrics
from protocol.topics import Topic, TopicKind
from tests.hub.conftest import wait_until

TOPIC = Topic("thpt-nguyen-du", "e1", TopicKind.TELEMETRY, "co2-1")


class GatedWorker(BatchWorker[int]):
    """Stores a batch only when the test opens its gate; records the order of everything."""

    sink_name = "gated"

    def __init__(self, concurrency: int, batch_size: int) -> None:
        self.events: list[tuple[str, int]] = []
        self.acked: list[int] = []
        self.gates: dict[int, threading.Event] = {}
        self.storing: set[int] = set()
        self.fail_after_store = False
        self._lock = threading.Lock()
        super().__init__(metrics=HubMetrics(), ack=self.acked.append, batch_size=batch_size,
                         batch_wait=0.05, concurrency=concurrency)

    def gate(self, first: int) -> threading.Event:
        with self._lock:
            return self.gates.setdefault(first, threading.Event())

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        first = items[0][1]
        with self._lock:
            self.storing.add(first)
            self.events.append(("start", first))
        assert self.gate(first).wait(10)
        with self._lock:
            self.events.append(("stored", first))

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        self.events.append(("after", items[0][1]))
        if self.fail_after_store:
            raise RuntimeError("the live wall broke")


@pytest.fixture
def worker() -> Iterator[GatedWorker]:
    made: list[GatedWorker] = []

    def make(concurrency: int = 2, batch_size: int = 3) -> GatedWorker:
        w = GatedWorker(concurrency, batch_size)
        made.append(w)
        return w

    yield make  # type: ignore[misc]
    for w in made:
        if not w.is_alive():
            continue
        for gate in list(w.gates.values()):
            gate.set()
        w.stop(5)


def test_two_batches_store_at_once_but_finish_in_the_order_taken(worker: Any) -> None:
    w: GatedWorker = worker(concurrency=2, batch_size=3)
    for i in range(6):
        w.put(TOPIC, i, 100 + i)
    w.start()  # everything queued first: the batches are [0, 1, 2] and [3, 4, 5]
    # Both batches are in the store at the same time.
    wait_until(lambda: w.storing == {0, 3}, 5, "two stores in flight")
    w.gate(3).set()  # the second batch is stored first...
    wait_until(lambda: ("stored", 3) in w.events, 5, "second batch stored")
    assert w.acked == [] and ("after", 3) not in w.events  # ...but waits for the first
    w.gate(0).set()
    assert w.flush(5)
    assert sorted(w.events[:2]) == [("start", 0), ("start", 3)]
    assert w.events[2:] == [("stored", 3), ("stored", 0), ("after", 0), ("after", 3)]
    assert w.acked == [100, 101, 102, 103, 104, 105]


def test_one_at_a_time_when_concurrency_is_one(worker: Any) -> None:
    w: GatedWorker = worker(concurrency=1, batch_size=3)
    for i in range(6):
        w.put(TOPIC, i, 100 + i)
    w.start()
    wait_until(lambda: w.storing == {0}, 5, "first store")
    w.gate(3).set()  # open already: the second batch would be stored at once if it started
    w.gate(0).set()
    assert w.flush(5)
    assert w.events == [("start", 0), ("stored", 0), ("after", 0),
                        ("start", 3), ("stored", 3), ("after", 3)]
    assert w.acked == [100, 101, 102, 103, 104, 105]


def test_a_failing_after_store_hook_still_acknowledges_stored_items(worker: Any) -> None:
    w: GatedWorker = worker(concurrency=2, batch_size=2)
    w.fail_after_store = True
    for i in range(4):
        w.gate(i).set()
        w.put(TOPIC, i, 100 + i)
    w.start()
    assert w.flush(5)
    assert w.acked == [100, 101, 102, 103]
    assert w.is_alive()
