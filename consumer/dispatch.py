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
from concurrent import futures
from datetime import UTC, datetime
from functools import partial
from typing import Any

from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from consumer.handler_loop import handler_loop
from consumer.handler_threads import HandlerThreads
from consumer.idempotency import Claim, IdempotencyStore
from consumer.metrics import Metrics
from consumer.outcome import Abandoned, Dead, Done, Outcome, Retry, named
from consumer.queue_config import QueueConfig
from consumer.registry import Handler, HandlerRegistry, PayloadMismatchError, PermanentError
from consumer.retry import Backoff
from consumer.status_recorder import StatusRecorder
from consumer.stored_bodies import StoredBodies
from consumer.watchdog import Watchdog
from shared import log_context, tracing
from shared.aws import AwsError, ReceivedMessage
from shared.aws.s3 import ObjectMissingError
from shared.messages.dead_letter import Reason
from shared.messages.envelope import Envelope
from shared.messages.formats import Incoming, NotReadableError, read_message
from shared.messages.formats.ours import summary
from shared.messages.large_payload import PointerError
from shared.messages.status_events import Stage
from shared.settings import ConsumerSettings

log = logging.getLogger(__name__)

MIN_CLAIM_SECONDS = 5.0


class WrittenOff(Exception):  # noqa: N818 - a signal, not an error
    """Raised on a handler thread whose call returned after the watchdog had settled its
    message as abandoned: the message is no longer this thread's to settle."""


class Dispatcher:
    """Turns one received message into its outcome; safe to call from many threads."""

    def __init__(
        self,
        registry: HandlerRegistry,
        queue: QueueConfig,
        settings: ConsumerSettings,
        metrics: Metrics,
        store: IdempotencyStore,
        status: StatusRecorder,
        bodies: StoredBodies,
        threads: HandlerThreads,
        watchdog: Watchdog,
        on_abandoned: Callable[[Abandoned], None],
    ) -> None:
        """`on_abandoned` settles a message whose plain handler overran, on the watchdog's
        thread, since the handler's own thread is still inside the call."""
        self.registry = registry
        self.threads = threads
        self.watchdog = watchdog
        self.on_abandoned = on_abandoned
        self.queue = queue
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.status = status
        self.bodies = bodies
        self.default_backoff = Backoff(settings.retry_base_seconds, settings.retry_max_seconds)

    def handle(self, message: ReceivedMessage) -> Outcome:
        """Read the message (its body fetched from S3 first when it is a pointer) and run
        each envelope it holds in turn: an S3 notification holds one per record. The message
        is done when all are; the first that is not decides its outcome, and a retry runs
        the records again (an idempotent handler skips those it completed).

        It runs in the message's span, the child of its sender's (`shared.tracing`); every
        line logged meanwhile, the handler's own included, carries the message's ids."""
        queue = self.queue.name
        with log_context.bound(message_id=message.message_id, queue=queue):
            # Read before the span opens: an SNS notification's trace context is in its body.
            read = self._read(message)
            with tracing.span(
                f"process {queue}",
                SpanKind.CONSUMER,
                parent=tracing.message_parent(
                    message, read.sent_with if isinstance(read, Incoming) else None
                ),
                attributes=tracing.messaging_attributes(
                    "process", queue, message_id=message.message_id
                ),
            ):
                # An unreadable message's outcome is made in the span, so its line has ids.
                return self._run_all(read, message) if isinstance(read, Incoming) else read()

    def _read(self, message: ReceivedMessage) -> Incoming | Callable[[], Outcome]:
        """The envelopes the message holds, or how to settle it when they cannot be read."""
        try:
            body, pointer = self.bodies.body_of(message)
        except ObjectMissingError as exc:
            return partial(self._dead, message, Reason.PAYLOAD_MISSING, str(exc))
        except PointerError as exc:
            return partial(self._dead, message, Reason.INVALID_BODY, str(exc))
        except AwsError as exc:
            delay = self.default_backoff.delay(message.receive_count)
            return partial(Retry, message, delay, f"stored body unreadable: {exc}")
        try:
            return read_message(message, body, stored_in=str(pointer) if pointer else None)
        except NotReadableError as exc:
            return partial(self._dead, message, Reason.INVALID_BODY, str(exc))

    def _run_all(self, incoming: Incoming, message: ReceivedMessage) -> Outcome:
        self.metrics.formats.labels(incoming.format).inc()
        if incoming.skipped:
            self.metrics.skipped.labels(incoming.skipped).inc()
            log.info("%s is %s: acknowledged", named(message), incoming.skipped)
            return Done(message)
        outcome: Outcome = Done(message)
        for envelope in incoming.envelopes:
            with log_context.bound(
                envelope_id=str(envelope.id), correlation_id=envelope.correlation_id
            ):
                self.status.stage(envelope, message, Stage.RECEIVED, at=message.received_at)
                outcome = self._route(envelope, message)
                self.status.outcome(envelope, outcome)
                if isinstance(outcome, Done) and not outcome.duplicate:
                    self.metrics.end_to_end.labels(self.queue.name).observe(
                        max(0.0, (datetime.now(UTC) - envelope.created_at).total_seconds())
                    )
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

        def renew() -> None:  # on the watchdog's thread, while the handler runs
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
        renew: Callable[[], None] = lambda: None,
    ) -> Outcome:
        self.status.stage(envelope, message, Stage.PROCESSING)
        started = time.monotonic()
        if not handler.is_async:
            error = self._call(handler, payload, envelope, message, renew, started)
        else:
            error, in_time = self._await(handler, payload, envelope, renew)
            if not in_time:
                self._overran(handler, message, envelope, started)
                return Abandoned(message)
        self.metrics.handler_seconds.labels(handler.name).observe(time.monotonic() - started)
        if error is None:
            self.metrics.processed.labels(handler.name).inc()
            return Done(message)
        self.metrics.failed.labels("handler_error").inc()
        log.error(
            "handler %s failed on %s, receive %d",
            handler.name,
            named(message, envelope),
            message.receive_count,
            exc_info=error,
        )
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, PermanentError):
            return self._dead(message, Reason.PERMANENT_ERROR, text, count=False, envelope=envelope)
        limit = self.queue.max_receive_count
        if limit is not None and message.receive_count >= limit:
            return self._dead(
                message, Reason.RETRIES_EXHAUSTED, text, count=False, envelope=envelope
            )
        return self._retry(handler, message, text)

    def _await(
        self, handler: Handler, payload: Any, envelope: Envelope, renew: Callable[[], None]
    ) -> tuple[BaseException | None, bool]:
        """A coroutine handler as a task on the handler loop, this thread waiting; an overrun
        cancels the task, which ends the wait. Returns its error, and whether it finished in
        time."""
        task = handler_loop.submit(handler.call(payload, envelope))
        watch = self.watchdog.watch(task.cancel, renew)
        futures.wait([task])
        in_time = self.watchdog.done(watch)
        if not in_time or task.cancelled():
            return None, False
        return task.exception(), True

    def _call(
        self,
        handler: Handler,
        payload: Any,
        envelope: Envelope,
        message: ReceivedMessage,
        renew: Callable[[], None],
        started: float,
    ) -> BaseException | None:
        """A plain handler, right here on this handler thread. If it overruns, the watchdog
        writes the thread off and settles the message; when the call returns at last, this
        thread raises `WrittenOff` and leaves."""
        thread = threading.current_thread()

        def overran() -> None:
            self.threads.write_off(thread)
            self._overran(handler, message, envelope, started)
            abandoned = Abandoned(message)
            self.status.outcome(envelope, abandoned)
            self.on_abandoned(abandoned)

        watch = self.watchdog.watch(overran, renew)
        error: BaseException | None = None
        try:
            handler.run(payload, envelope)
        except BaseException as exc:  # noqa: BLE001 - its outcome is decided below
            error = exc
        if not self.watchdog.done(watch):
            log.info("abandoned handler %s returned on %s", handler.name, named(message, envelope))
            raise WrittenOff
        return error

    def _overran(
        self, handler: Handler, message: ReceivedMessage, envelope: Envelope, started: float
    ) -> None:
        self.metrics.handler_seconds.labels(handler.name).observe(time.monotonic() - started)
        self.metrics.abandoned.inc()
        log.error(
            "handler %s overran on %s; %s",
            handler.name,
            named(message, envelope),
            "cancelled" if handler.is_async else "abandoned",
        )

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
