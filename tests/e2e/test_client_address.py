"""The client address the rate limit counts: forwarded headers are believed only from the
proxies in PRODUCER_TRUSTED_PROXIES, so a client cannot be a new caller per request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.e2e.conftest import StackFactory

ORDER = json.dumps({"type": "e2e.record", "payload": {}}).encode()


def post_as(url: str, forwarded_for: str) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"{url}/messages",
        data=ORDER,
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_x_forwarded_for_from_an_untrusted_client_does_not_dodge_the_rate_limit(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(PRODUCER_RATE_LIMIT="5/s")
    answers = [post_as(stack.producer_url, f"10.0.0.{n}") for n in range(30)]
    assert answers.count(429) >= 15, answers  # one caller, whatever the header says


def test_a_trusted_proxy_s_x_forwarded_for_names_the_caller(start_stack: StackFactory) -> None:
    stack = start_stack(PRODUCER_RATE_LIMIT="5/s", PRODUCER_TRUSTED_PROXIES="127.0.0.1")
    answers = [post_as(stack.producer_url, f"10.0.0.{n}") for n in range(30)]
    assert answers == [202] * 30  # thirty callers, one request each
