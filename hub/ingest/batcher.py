"""A consumer thread that stores items in batches, retries forever, and acknowledges after."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from hub.ingest.mqtt import Delivery
from hub.metrics import HubMetrics
from protocol.topics import Topic

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(RuntimeError):
    """A failure that may heal by itself (store down): retry the same batch later."""


class Stopped(RuntimeError):
    """The worker was told to give up on the batch (shutdown while the store is down)."""


class BatchWorker(threading.Thread, Generic[T]):
    """Takes up to ``batch_size`` items or waits ``batch_wait`` s, stores them, then acks them.

    Nothing is acknowledged before ``store`` succeeded: while the store is down the broker holds
    the rest, and past ReceiveMaximum it stops sending. That is the backpressure.

    With ``concurrency`` > 1, that many threads store batches at once (one builds and sends the
    next batch while another waits for the store to answer), but batches are finished in the
    order they were taken: ``after_store`` and the acks of a batch run only after those of every
    earlier one. ``store`` must then keep no state between calls.
    """

    sink_name = "sink"

    def __init__(self, *, metrics: HubMetrics, ack: Callable[[Delivery], None],
                 batch_size: int, batch_wait: float,
                 ack_all: Callable[[list[Delivery]], None] | None = None,
                 concurrency: int = 1) -> None:
        super().__init__(name=f"hub-{self.sink_name}", daemon=True)
        self.metrics = metrics
        self._ack = ack
        self._ack_all = ack_all
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._queue: queue.SimpleQueue[tuple[Topic, Any, Delivery]] = queue.SimpleQueue()
        self._stop_taking = threading.Event()
        self._abort = threading.Event()
        # ``_put`` is counted without a lock on the hot path: only the network thread writes
        # it. ``_stored`` is written under ``_done``.
        self._put = 0
        self._stored = 0
        self._done = threading.Condition()
        self.concurrency = concurrency
        #: One thread fills a batch at a time; batches are numbered in the order taken and
        #: finished in that order (``_finished`` is the number of the next one to finish).
        self._take_lock = threading.Lock()
        self._taken = 0
        self._finished = 0
        self.failing = False
        self._depth = metrics.queue_depth.labels(self.sink_name)

    def put(self, topic: Topic, message: Any, delivery: Delivery) -> None:
        """Queue one decoded message (called from the network thread)."""
        self._put += 1
        self._queue.put((topic, message, delivery))

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Make the items durable; raise RetryableError to have the same batch retried."""
        raise NotImplementedError

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        """Hook run after a successful store, before the acks."""

    def run(self) -> None:
        """The thread's loop (and its helpers' when concurrent): until stopped and drained."""
        helpers = [threading.Thread(target=self._work, name=f"{self.name}-{i}", daemon=True)
                   for i in range(1, self.concurrency)]
        for helper in helpers:
            helper.start()
        self._work()
        for helper in helpers:
            helper.join()

    def _work(self) -> None:
        while True:
            with self._take_lock:
                batch = self._take()
                number = self._taken
                if batch:
                    self._taken += 1
            if not batch:
                if self._stop_taking.is_set() and self._queue.empty():
                    return
                continue
            items = [(topic, message) for topic, message, _ in batch]
            try:
                self._store_with_retry(items)
                stored = True
            except Stopped:
                log.warning("%s: shutting down with %d items unstored; the broker keeps them",
                            self.sink_name, len(batch))
                stored = False
            with self._done:
                self._done.wait_for(lambda: self._finished == number)  # noqa: B023
                try:
                    if stored:
                        self._complete(batch, items)
                finally:
                    self._finished += 1
                    self._done.notify_all()
            if not stored:
                return

    def _complete(self, batch: list[tuple[Topic, Any, Delivery]],
                  items: list[tuple[Topic, Any]]) -> None:
        """After a successful store, in the order batches were taken: hook, acks, count."""
        try:
            self.after_store(items)
        except Exception:  # noqa: BLE001 - the items are stored: they must still be acknowledged
            log.exception("%s: after a stored batch of %d", self.sink_name, len(items))
        if self._ack_all is not None:
            self._ack_all([delivery for _, _, delivery in batch])
        else:
            for _, _, delivery in batch:
                self._ack(delivery)
        self._stored += len(batch)

    def _take(self) -> list[tuple[Topic, Any, Delivery]]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            self._depth.set(0)
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        self._depth.set(self._queue.qsize())
        return batch

    def _store_with_retry(self, items: list[tuple[Topic, Any]]) -> None:
        def give_up(state: RetryCallState) -> bool:
            return self._abort.is_set()

        def before_sleep(state: RetryCallState) -> None:
            self.failing = True
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RetryableError):
                log.warning("%s: store failed (attempt %d), retrying: %s",
                            self.sink_name, state.attempt_number, error)
            else:
                log.error("%s: unexpected error (attempt %d), retrying", self.sink_name,
                          state.attempt_number, exc_info=error)

        def sleep(seconds: float) -> None:
            if self._abort.wait(seconds):
                raise Stopped

        retrying = Retrying(
            # Unexpected errors are retried too: a dead sink thread would stop every ack.
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=0.05, max=5.0, jitter=0.1),
            stop=give_up,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(self.store, items)
        except Stopped:
            raise
        except Exception as error:
            raise Stopped from error
        self.failing = False

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is stored and acknowledged."""
        target = self._put
        with self._done:
            return self._done.wait_for(lambda: self._stored >= target, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what is queued (up to ``timeout``), then end the thread."""
        self._stop_taking.set()
        self.join(timeout)
        if self.is_alive():
            self._abort.set()
            self.join(5.0)
