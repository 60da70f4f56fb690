"""The bootstrap command: make every resource the services need, waiting for the endpoint.

Run it as `python -m shared.bootstrap [--wait SECONDS]` (or `sqs-bootstrap`); it prints the
queue URLs as JSON and exits 0, or says in one line what failed and exits 1. What it makes
is `shared.topology.resources.ensure_resources`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from shared.aws import AwsError, AwsUnavailableError
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_resources
from shared.topology.topics import TopicsConfigError

log = logging.getLogger("shared.bootstrap")


def ensure_when_reachable(settings: Settings, wait_seconds: float) -> QueuePair:
    """Retry `ensure_resources` while the endpoint is still starting, up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return ensure_resources(settings)
        except AwsUnavailableError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.info(
                "waiting for %s at %s: %s", exc.service, settings.sqs.endpoint_url or "AWS", exc
            )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep retrying an unreachable endpoint"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, "bootstrap")
    try:
        pair = ensure_when_reachable(settings, args.wait)
    except (AwsError, TopicsConfigError) as exc:
        log.error("bootstrap failed: %s", exc)
        return 1
    print(json.dumps({"queue_url": pair.queue_url, "dlq_url": pair.dlq_url}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
