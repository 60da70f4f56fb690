"""The two reference points the system is compared with, made with plain boto3 calls.

(a) naive: one thread sends with SendMessage, one at a time, while another receives one
message per ReceiveMessage and deletes it with DeleteMessage.
(b) raw optimum: one thread sends SendMessageBatch of ten, another receives ten at a time and
deletes them with DeleteMessageBatch.

Each loop's own CPU (its two threads', boto3 included) is measured too: (b)'s CPU per message
is the SQS half of the floor that (c)'s processes are judged against.

Sender and receiver always run at the same time. moto rescans a queue on every call, so its
calls slow down as the queue deepens; the sender pauses while more than `cap` messages are
unfinished, keeping every contender on an equally shallow queue.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter

from bench.results import Measurement
from shared.aws.clients import build_client
from shared.aws.limits import MAX_BATCH_ENTRIES
from shared.aws.request_metrics import count_requests, requests_counter
from shared.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

ROOM_POLL_SECONDS = 0.002


@dataclass
class Flow:
    """What the sender and the receiver of one baseline share; every wait is bounded."""

    total: int
    cap: int
    deadline: float
    sent: int = 0
    done: int = 0
    first_send: float = math.nan
    last_receipt: float = math.nan
    latencies: dict[int, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() > self.deadline

    def wait_for_room(self) -> bool:
        """Block while more than `cap` messages are unfinished; False if time ran out."""
        while self.sent - self.done > self.cap:
            if self.over():
                return False
            time.sleep(ROOM_POLL_SECONDS)
        return not self.over()

    def note_sent(self, count: int, sent_at: float) -> None:
        with self.lock:
            if math.isnan(self.first_send):
                self.first_send = sent_at
            self.sent += count

    def note_received(self, messages: Sequence[MessageTypeDef]) -> None:
        now = time.time()
        with self.lock:
            for message in messages:
                index, sent_at = _parse(message.get("Body", "{}"))
                self.latencies.setdefault(index, now - sent_at)
            if messages:
                self.last_receipt = now

    def note_done(self, count: int) -> None:
        with self.lock:
            self.done += count

    def finished(self) -> bool:
        return len(self.latencies) >= self.total or self.over()


def _body(index: int, sent_at: float) -> str:
    return json.dumps({"i": index, "sent_at": sent_at})


def _parse(body: str) -> tuple[int, float]:
    data = json.loads(body)
    return int(data["i"]), float(data["sent_at"])


def send_one_by_one(client: SQSClient, url: str, flow: Flow) -> None:
    for index in range(flow.total):
        if not flow.wait_for_room():
            return
        sent_at = time.time()
        client.send_message(QueueUrl=url, MessageBody=_body(index, sent_at))
        flow.note_sent(1, sent_at)


def send_in_batches(client: SQSClient, url: str, flow: Flow) -> None:
    for start in range(0, flow.total, MAX_BATCH_ENTRIES):
        if not flow.wait_for_room():
            return
        sent_at = time.time()
        indexes = range(start, min(start + MAX_BATCH_ENTRIES, flow.total))
        client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": _body(i, sent_at)} for i in indexes],
        )
        flow.note_sent(len(indexes), sent_at)


def receive_one_by_one(client: SQSClient, url: str, flow: Flow, wait: int) -> None:
    while not flow.finished():
        answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=wait)
        messages = answer.get("Messages", [])
        flow.note_received(messages)
        for message in messages:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            flow.note_done(1)


def receive_in_batches(client: SQSClient, url: str, flow: Flow, wait: int) -> None:
    while not flow.finished():
        answer = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=MAX_BATCH_ENTRIES, WaitTimeSeconds=wait
        )
        messages = answer.get("Messages", [])
        flow.note_received(messages)
        if messages:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )
            flow.note_done(len(messages))


Sender = Callable[["SQSClient", str, Flow], None]
Receiver = Callable[["SQSClient", str, Flow, int], None]


def by_operation(counter: Counter) -> dict[str, float]:
    """The counter's totals by SQS operation."""
    counts: dict[str, float] = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                operation = sample.labels["operation"]
                counts[operation] = counts.get(operation, 0.0) + sample.value
    return counts


def measure(
    key: str,
    label: str,
    send: Sender,
    receive: Receiver,
    settings: Settings,
    *,
    messages: int,
    cap: int,
    timeout: float,
) -> Measurement:
    """Run `send` and `receive` side by side on the queue `settings` names; count their calls."""
    sender = build_client("sqs", settings)
    receiver = build_client("sqs", settings, long_poll=True)
    name = settings.sqs.queue_name
    send_url = sender.get_queue_url(QueueName=name)["QueueUrl"]
    receive_url = receiver.get_queue_url(QueueName=name)["QueueUrl"]
    counter = requests_counter(CollectorRegistry())  # this baseline's calls alone
    count_requests(sender, counter)
    count_requests(receiver, counter)
    flow = Flow(messages, cap, time.monotonic() + timeout)
    wait = settings.sqs.wait_time_seconds
    with ThreadPoolExecutor(2, thread_name_prefix=f"baseline-{key}") as pool:
        futures = [
            pool.submit(_cpu_of, send, sender, send_url, flow),
            pool.submit(_cpu_of, receive, receiver, receive_url, flow, wait),
        ]
        try:
            finished, _ = concurrent.futures.wait(futures, return_when=FIRST_EXCEPTION)
            if any(future.exception() for future in finished):
                flow.stop.set()  # an error on one side ends the other at once
            for future in futures:
                future.result()
        except BaseException:  # Ctrl-C too: the threads must not run on to the deadline
            flow.stop.set()
            raise
    received = len(flow.latencies)
    operations = by_operation(counter)
    return Measurement(
        key=key,
        label=label,
        messages=received,
        seconds=flow.last_receipt - flow.first_send,
        requests=sum(operations.values()),
        latencies=list(flow.latencies.values()),
        errors=messages - received,
        operations=operations,
        process_cpu={"loop": sum(future.result() for future in futures)},
    )


def _cpu_of(side: Callable[..., None], *args: object) -> float:
    """Run one side of a baseline in this thread; the CPU seconds this thread spent on it."""
    started = time.thread_time()
    side(*args)
    return time.thread_time() - started


def measure_naive(settings: Settings, *, messages: int, cap: int, timeout: float) -> Measurement:
    return measure(
        "a",
        "naive: SendMessage / Receive 1 + DeleteMessage",
        send_one_by_one,
        receive_one_by_one,
        settings,
        messages=messages,
        cap=cap,
        timeout=timeout,
    )


def measure_batched(settings: Settings, *, messages: int, cap: int, timeout: float) -> Measurement:
    return measure(
        "b",
        "raw optimum: SendMessageBatch 10 / Receive 10 + DeleteMessageBatch",
        send_in_batches,
        receive_in_batches,
        settings,
        messages=messages,
        cap=cap,
        timeout=timeout,
    )
