"""Stopped while SQS does not answer, the producer says the outcome is unknown: never a 500.

A real producer process sends through a proxy that stops answering; SIGTERM comes while
POSTs wait on SQS. After the grace period each waiting request is answered 503 with the
reason, no traceback is logged, and once SQS answers again the producer's exit flushes what
it accepted: the messages are stored, which is why "not stored" would have been a lie.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from pathlib import Path

import pytest

from scripts.processes import HOST, free_port
from shared.aws import SqsQueue
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from tests.e2e.proxy import TcpProxy
from tests.support import Service, http_status, service_env, wait_for

pytestmark = pytest.mark.e2e

WAITING = 6
GRACE = 1
LAUNCH = f"import producer.__main__ as p; p.GRACEFUL_SHUTDOWN_SECONDS = {GRACE}; p.main()"


def post(port: int, n: int, answers: list[tuple[int, dict[str, str], dict[str, object]]]) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    body = json.dumps({"type": "order.created", "payload": {"n": n}})
    connection.request("POST", "/messages", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    headers = {name.lower(): value for name, value in response.getheaders()}
    answers.append((response.status, headers, json.loads(response.read())))
    connection.close()


def test_requests_waiting_on_sqs_at_shutdown_get_503_outcome_unknown(
    moto_endpoint: str, tmp_path: Path
) -> None:
    with pytest.MonkeyPatch.context() as env_for_setup:
        for name, value in service_env(moto_endpoint).items():
            env_for_setup.setenv(name, value)
        settings = Settings(_env_file=None, sqs={"endpoint_url": moto_endpoint})
        ensure_resources(settings)
        queue = SqsQueue.from_settings(settings)
    port = free_port()
    with TcpProxy.to(moto_endpoint) as proxy:
        env = service_env(
            moto_endpoint,
            SQS_ENDPOINT_URL=proxy.url,
            SQS_READ_TIMEOUT="30",
            SQS_MAX_ATTEMPTS="3",
            PRODUCER_PORT=str(port),
        )
        producer = Service(["-c", LAUNCH], env, tmp_path / "producer.log")
        try:
            wait_for(
                lambda: http_status(f"http://{HOST}:{port}/readyz") == 200,
                timeout=30,
                what=f"producer ready\n{producer.output_tail()}",
            )
            warm_up: list[tuple[int, dict[str, str], dict[str, object]]] = []
            post(port, -1, warm_up)  # the queue's size limit is known: POSTs wait on sends
            assert warm_up[0][0] == 202, warm_up
            proxy.stall()
            answers: list[tuple[int, dict[str, str], dict[str, object]]] = []
            clients = [
                threading.Thread(target=post, args=(port, n, answers)) for n in range(WAITING)
            ]
            for client in clients:
                client.start()
            time.sleep(1.0)  # every POST is in, waiting on SQS
            producer.process.send_signal(signal.SIGTERM)
            for client in clients:
                client.join(timeout=GRACE + 20)
            assert len(answers) == WAITING, producer.output_tail()
            proxy.restore()  # SQS answers again: the exit flushes what was accepted
            assert producer.process.wait(timeout=60) == 0, producer.output_tail()
        finally:
            producer.stop()
    for status, headers, body in answers:
        assert status == 503, body
        assert headers["retry-after"] == "5"
        assert str(body["detail"]).startswith("outcome unknown")
    log = producer.output_tail()
    assert "Traceback" not in log, log
    assert "Exception in ASGI" not in log, log
    wait_for(
        lambda: queue.depth().total >= WAITING + 1,
        timeout=10,
        what="the messages answered 'outcome unknown' stored after all",
    )
