"""(c) this system end to end: the real producer and consumer processes, HTTP in, handler out.

Latency runs from just before each POST to the start of its handler (the probe in
`bench.handlers` records it); throughput from the first POST to the last handler start.
Requests are what both services count themselves: `aws_requests_total` of SQS and SNS on
their /metrics, before and after, the consumer's deletes included.

The services run as shipped, status events on: each consumer publishes them packed to the
events topic, which delivers them to the events queue and the producer's feed queue, and
their requests are counted with the messages' own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client.parser import text_string_to_metric_families

from bench.cpu import cpu_seconds, rss_mib, thread_count
from bench.handlers import RECORD_ENV
from bench.load import post_load, post_trickle
from bench.periodic import every
from bench.records import Records, following
from bench.results import LightLoad, Measurement
from scripts.processes import HOST, ROOT, Child, free_port, http_get, start, wait_for, wait_http_ok
from shared.aws import build_client
from shared.settings import Settings
from shared.topology.events_topic import ensure_events_topic

STARTUP_SECONDS = 60.0
SETTLE_SECONDS = 30.0
"""Longest to wait, after the last message was handled, for the last deletes."""


@dataclass
class System:
    producer: Child
    consumer: Child
    producer_url: str
    consumer_url: str
    records: Records

    def aws_requests(self) -> dict[str, float]:
        """SQS and SNS requests both services made so far, by operation (SNS's prefixed),
        retries included."""
        counts: dict[str, float] = {}
        for url in (self.producer_url, self.consumer_url):
            for service, prefix in (("sqs", ""), ("sns", "SNS ")):
                for operation, value in scrape(url, service=service).items():
                    counts[prefix + operation] = counts.get(prefix + operation, 0.0) + value
        return counts

    def deleted(self) -> float:
        return sum(scrape(self.consumer_url, "sqs_messages_deleted_total").values())


def scrape(
    base_url: str, sample_name: str = "aws_requests_total", service: str = "sqs"
) -> dict[str, float]:
    """One metric's samples of `service` on `base_url`/metrics, summed by operation."""
    answer = http_get(f"{base_url}/metrics", timeout=10)
    if answer is None or answer[0] != 200:
        raise RuntimeError(f"{base_url}/metrics did not answer")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(answer[1].decode()):
        for sample in family.samples:
            if sample.name == sample_name and sample.labels.get("service", service) == service:
                operation = sample.labels.get("operation", "")
                counts[operation] = counts.get(operation, 0.0) + sample.value
    return counts


def service_env(
    base: Mapping[str, str],
    settings: Settings,
    record: Path,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The services' environment: the bench's queue and endpoint, the probe, free ports."""
    sqs = settings.sqs
    env = dict(base)
    env.update(
        {
            "SQS_ENDPOINT_URL": str(sqs.endpoint_url).rstrip("/"),
            "SQS_QUEUE_NAME": sqs.queue_name,
            "SQS_DLQ_NAME": sqs.dlq_name,
            # Status events on, as shipped, through a topic and queue of this run's own.
            "SQS_EVENTS_QUEUE_NAME": events_name(settings),
            "SQS_EVENTS_TOPIC_NAME": events_name(settings),
            "SQS_WAIT_TIME_SECONDS": str(sqs.wait_time_seconds),
            "CONSUMER_HANDLERS": "bench.handlers",
            RECORD_ENV: str(record),
            "PRODUCER_HOST": HOST,
            "PRODUCER_PORT": str(free_port()),
            "CONSUMER_HOST": HOST,
            "CONSUMER_PORT": str(free_port()),
            **(overrides or {}),
        }
    )
    return env


@contextmanager
def running_system(
    base_env: Mapping[str, str],
    settings: Settings,
    log_dir: Path,
    overrides: Mapping[str, str] | None = None,
    *,
    cwd: Path = ROOT,
) -> Iterator[System]:
    """Producer and consumer, up and ready; stopped (producer first) when the block ends.
    `cwd`: the tree they run from (`bench.compare` runs another commit's)."""
    record = log_dir / f"{settings.sqs.queue_name}.records"
    env = service_env(base_env, settings, record, overrides)
    children: list[Child] = []
    with status_events(settings), _stopped(children):
        children.append(start("consumer", ["-m", "consumer"], env, log_dir, cwd=cwd))
        children.append(start("producer", ["-m", "producer"], env, log_dir, cwd=cwd))
        consumer, producer = children
        producer_url = f"http://{HOST}:{env['PRODUCER_PORT']}"
        consumer_url = f"http://{HOST}:{env['CONSUMER_PORT']}"
        wait_http_ok(f"{producer_url}/readyz", producer, STARTUP_SECONDS)
        wait_http_ok(f"{consumer_url}/healthz", consumer, STARTUP_SECONDS)
        yield System(producer, consumer, producer_url, consumer_url, Records(record))


@contextmanager
def _stopped(children: list[Child]) -> Iterator[None]:
    """The children started in the block, stopped when it ends (the last started first)."""
    try:
        yield
    finally:
        for child in reversed(children):
            child.stop()


def events_name(settings: Settings) -> str:
    """The status events topic and queue of the run on `settings`' queue."""
    return f"{settings.sqs.queue_name}-events"


@contextmanager
def status_events(settings: Settings) -> Iterator[None]:
    """The run's events topic and queue, made when the block starts, removed when it ends."""
    sqs, sns = build_client("sqs", settings), build_client("sns", settings)
    name = events_name(settings)
    topic_arn = ensure_events_topic(sns, sqs, name, name)
    try:
        yield
    finally:
        with suppress(BotoCoreError, ClientError):
            sns.delete_topic(TopicArn=topic_arn)
        with suppress(BotoCoreError, ClientError):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


def measure_system(
    system: System, *, messages: int, clients: int, cap: int, timeout: float
) -> Measurement:
    """N messages POSTed by `clients` threads; done when every accepted one was handled and
    deleted. Clients pause while more than `cap` accepted messages are unhandled (moto slows
    as its queue deepens; the baselines are held to the same depth)."""
    run = "load"
    requests_before = system.aws_requests()
    deleted_before = system.deleted()
    pids = {"producer": system.producer.process.pid, "consumer": system.consumer.process.pid}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    rss_before = {name: rss_mib(pid) for name, pid in pids.items()}
    with following(system.records) as records, peak_threads(pids) as peaks:
        load = post_load(
            system.producer_url,
            run,
            messages,
            clients,
            timeout=timeout,
            gate=lambda issued, accepted: accepted - records.count(run) <= cap,
        )
        _wait_handled(system, run, load.accepted, timeout)
    _wait_or_warn(
        lambda: system.deleted() - deleted_before >= records.count(run),
        system.consumer,
        SETTLE_SECONDS,
        "the consumer's deletes",
    )
    handled = records.count(run)
    operations = _difference(system.aws_requests(), requests_before)
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    return Measurement(
        key="c",
        label=f"this system: {clients} HTTP clients -> producer -> SQS -> consumer",
        messages=handled,
        seconds=records.last_start(run) - load.first_post,
        requests=sum(operations.values()),
        latencies=records.latencies(run),
        errors=messages - handled,
        operations=operations,
        process_cpu=cpu,
        peak_threads=dict(peaks),
        rss_mib={name: (rss_before[name], rss_mib(pid)) for name, pid in pids.items()},
    )


@contextmanager
def peak_threads(pids: Mapping[str, int], interval: float = 0.05) -> Iterator[dict[str, int]]:
    """The most threads each process had at once while the block ran, sampled."""
    peaks = dict.fromkeys(pids, 0)

    def sample() -> None:
        for name, pid in pids.items():
            peaks[name] = max(peaks[name], thread_count(pid))

    with every(interval, sample, "thread-sampler"):
        yield peaks


def _difference(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    changed = {op: n - before.get(op, 0.0) for op, n in after.items()}
    return {op: n for op, n in changed.items() if n}


def _wait_handled(system: System, run: str, accepted: int, timeout: float) -> None:
    _wait_or_warn(
        lambda: system.records.count(run) >= accepted,
        system.consumer,
        timeout,
        f"{accepted} accepted messages to be handled",
    )


def _wait_or_warn(ready: Callable[[], bool], child: Child, timeout: float, what: str) -> None:
    """A bounded wait whose timeout is a finding (reported as lost messages), not a crash."""
    if not wait_for(ready, child, timeout, what):
        print(f"   warning: gave up after {timeout:.0f}s waiting for {what}", flush=True)


def measure_light(system: System, *, messages: int, interval: float, timeout: float) -> LightLoad:
    """One message every `interval` seconds: how long a lone message takes to its handler."""
    run = "light"
    with following(system.records):
        load = post_trickle(system.producer_url, run, messages, interval)
        _wait_handled(system, run, load.accepted, timeout)
    return LightLoad(system.records.count(run), system.records.latencies(run), load.latencies)
