"""From a received message to its outcome: parse, route, validate, claim, run, classify.

Errors retrying cannot fix (a body that breaks its format, a payload that does not fit the
model, no handler, `PermanentError`) are dead-lettered at once; other failures are retried with
backoff until the queue's maxReceiveCount, then dead-lettered with their last error.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import ValidationError

from consumer.handler_loop import handler_loop
from consumer.handler_threads import HandlerThreads
from consumer.idempotency import Claim, IdempotencyStore
from consumer.metrics import Metrics
from consumer.outcome import Abandoned, Dead, Done, Outcome, Retry, named
from consumer.queue_config import QueueConfig
from consumer.registry import Handler, HandlerRegistry, PayloadMismatchError, PermanentError
from consumer.retry import Backoff
from consumer.shutdown import Shutdown
from consumer.status_recorder import StatusRecorder
from consumer.stored_bodies import StoredBodies
from shared.aws import AwsError, ReceivedMessage
from shared.aws.s3 import ObjectMissingError
from shared.messages.dead_letter import Reason
from shared.messages.envelope import Envelope
from shared.messages.formats import NotReadableError, read_message
from shared.messages.formats.ours import summary
from shared.messages.large_payload import PointerError
from shared.messages.status_events import Stage
from shared.settings import ConsumerSettings

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
"""How often a waiting dispatcher checks for a shutdown deadline and renews its claim."""
MIN_CLAIM_SECONDS = 5.0


@dataclass
class _Run:
    """A handler call the dispatcher waits for: a sync one on a handler thread, so an
    overrunning one can be abandoned; an async one as a task on the handler loop, so an
    overrunning one can be cancelled."""

    finished: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def settle(self, task: Future[Any]) -> None:
        if not task.cancelled():
            self.error = task.exception()
        self.finished.set()


class Dispatcher:
    """Turns one received message into its outcome; safe to call from many threads."""

    def __init__(
        self,
        registry: HandlerRegistry,
        queue: QueueConfig,
        settings: ConsumerSettings,
        metrics: Metrics,
        store: IdempotencyStore,
        shutdown: Shutdown,
        status: StatusRecorder,
        bodies: StoredBodies,
        threads: HandlerThreads,
    ) -> None:
        self.registry = registry
        self.threads = threads
        self.queue = queue
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.shutdown = shutdown
        self.status = status
        self.bodies = bodies
        self.default_backoff = Backoff(settings.retry_base_seconds, settings.retry_max_seconds)

    def handle(self, message: ReceivedMessage) -> Outcome:
        """Read the message (its body fetched from S3 first when it is a pointer) and run
        each envelope it holds in turn: an S3 notification holds one per record. The message
        is done when all are; the first that is not decides its outcome, and a retry runs
        the records again (an idempotent handler skips those it completed)."""
        try:
            body, pointer = self.bodies.body_of(message)
        except ObjectMissingError as exc:
            return self._dead(message, Reason.PAYLOAD_MISSING, str(exc))
        except PointerError as exc:
            return self._dead(message, Reason.INVALID_BODY, str(exc))
        except AwsError as exc:
            return Retry(
                message,
                self.default_backoff.delay(message.receive_count),
                f"stored body unreadable: {exc}",
            )
        try:
            incoming = read_message(message, body, stored_in=str(pointer) if pointer else None)
        except NotReadableError as exc:
            return self._dead(message, Reason.INVALID_BODY, str(exc))
        self.metrics.formats.labels(incoming.format).inc()
        if incoming.skipped:
            self.metrics.skipped.labels(incoming.skipped).inc()
            log.info("%s is %s: acknowledged", named(message), incoming.skipped)
            return Done(message)
        outcome: Outcome = Done(message)
        for envelope in incoming.envelopes:
            self.status.stage(envelope, message, Stage.RECEIVED, at=message.received_at)
            outcome = self._route(envelope, message)
            self.status.outcome(envelope, outcome)
            if not isinstance(outcome, Done):
                break
        return outcome

    def _route(self, envelope: Envelope, message: ReceivedMessage) -> Outcome:
        handler = self.registry.resolve(envelope.type)
        if handler is None:
            return self._dead(
                message,
                Reason.NO_HANDLER,
                f"no handler for type {envelope.type!r} ({envelope.origin.format})"
                if envelope.type
                else f"no type and no default handler ({envelope.origin.format})",
                envelope=envelope,
            )
        try:
            payload = handler.parse(envelope)
        except ValidationError as exc:
            return self._dead(message, Reason.INVALID_PAYLOAD, summary(exc), envelope=envelope)
        except PayloadMismatchError as exc:
            return self._dead(message, Reason.INVALID_PAYLOAD, str(exc), envelope=envelope)
        if not handler.idempotent:
            return self._run(handler, payload, envelope, message)
        return self._run_once(handler, payload, envelope, message)

    def _run_once(
        self, handler: Handler, payload: Any, envelope: Envelope, message: ReceivedMessage
    ) -> Outcome:
        # Per queue: a topic fans one envelope out to several subscribed queues, and each
        # subscription is its own piece of work; only redeliveries within a queue repeat it.
        key = f"{self.queue.name}:{handler.name}:{envelope.id}"
        hold = max(MIN_CLAIM_SECONDS, float(self.queue.visibility_timeout))
        try:
            claim = self.store.claim(key, hold)
        except AwsError as exc:
            return self._retry(handler, message, f"idempotency store unavailable: {exc}")
        if claim is Claim.COMPLETED:
            self.metrics.duplicates.inc()
            log.info(
                "%s already handled by %s; acknowledging", named(message, envelope), handler.name
            )
            return Done(message, duplicate=True)
        if claim is Claim.IN_PROGRESS:
            # Come back once that claim can have lapsed, so waiting burns few receives.
            backoff = self._retry(handler, message, "being handled by another consumer")
            retry = Retry(message, max(backoff.delay, math.ceil(hold)), backoff.error)
            log.info(
                "%s is being handled elsewhere; trying again in %ds",
                named(message, envelope),
                retry.delay,
            )
            return retry
        renewed = [time.monotonic()]

        def renew() -> None:
            if time.monotonic() - renewed[0] >= hold / 3:
                renewed[0] = time.monotonic()
                try:
                    self.store.extend(key, hold)
                except AwsError as exc:
                    log.warning("claim on %s not renewed: %s", named(message, envelope), exc)

        outcome = self._run(handler, payload, envelope, message, renew)
        try:
            if isinstance(outcome, Done):
                self.store.complete(key, self.settings.idempotency_ttl_seconds)
            elif not isinstance(outcome, Abandoned):  # an abandoned run may still finish
                self.store.release(key)
        except AwsError as exc:
            log.warning("idempotency record for %s not updated: %s", named(message, envelope), exc)
        return outcome

    def _run(
        self,
        handler: Handler,
        payload: Any,
        envelope: Envelope,
        message: ReceivedMessage,
        while_running: Callable[[], None] = lambda: None,
    ) -> Outcome:
        self.status.stage(envelope, message, Stage.PROCESSING)
        started = time.monotonic()
        if handler.is_async:
            task = handler_loop.submit(handler.call(payload, envelope))
        else:
            task = self.threads.submit(partial(handler.run, payload, envelope))
        run = _Run()
        task.add_done_callback(run.settle)
        finished = self._wait(run, started, while_running)
        self.metrics.handler_seconds.labels(handler.name).observe(time.monotonic() - started)
        if not finished:
            self.metrics.abandoned.inc()
            if handler.is_async:
                task.cancel()
            else:
                self.threads.abandon(task)
            log.error(
                "handler %s overran on %s; %s",
                handler.name,
                named(message, envelope),
                "cancelled" if handler.is_async else "abandoned",
            )
            return Abandoned(message)
        if run.error is None:
            self.metrics.processed.labels(handler.name).inc()
            return Done(message)
        self.metrics.failed.labels("handler_error").inc()
        log.error(
            "handler %s failed on %s, receive %d",
            handler.name,
            named(message, envelope),
            message.receive_count,
            exc_info=run.error,
        )
        error = f"{type(run.error).__name__}: {run.error}"
        if isinstance(run.error, PermanentError):
            return self._dead(
                message, Reason.PERMANENT_ERROR, error, count=False, envelope=envelope
            )
        limit = self.queue.max_receive_count
        if limit is not None and message.receive_count >= limit:
            return self._dead(
                message, Reason.RETRIES_EXHAUSTED, error, count=False, envelope=envelope
            )
        return self._retry(handler, message, error)

    def _wait(self, run: _Run, started: float, while_running: Callable[[], None]) -> bool:
        """Wait for the handler, up to its time limit or the shutdown deadline."""
        limit = started + self.settings.handler_timeout_seconds
        while True:
            deadline = self.shutdown.deadline
            until = limit if deadline is None else min(limit, deadline)
            remaining = until - time.monotonic()
            if remaining <= 0:
                return run.finished.is_set()
            if run.finished.wait(min(remaining, TICK_SECONDS)):
                return True
            while_running()

    def _retry(self, handler: Handler, message: ReceivedMessage, error: str) -> Retry:
        backoff = handler.retry or self.default_backoff
        return Retry(message, backoff.delay(message.receive_count), error)

    def _dead(
        self,
        message: ReceivedMessage,
        reason: Reason,
        error: str,
        *,
        count: bool = True,
        envelope: Envelope | None = None,
    ) -> Dead:
        if count:
            self.metrics.failed.labels(reason.value).inc()
        log.error(
            "%s goes to the dead-letter queue: %s: %s", named(message, envelope), reason, error
        )
        return Dead(message, reason, error, envelope)
