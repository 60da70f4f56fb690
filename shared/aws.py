"""Building boto3 clients: one code path for AWS, localstack and moto's server.

Credentials always come from boto3's own chain (environment variables, `AWS_PROFILE`
with `~/.aws`, instance roles); only the endpoint differs between environments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

DEFAULT_REGION = "us-east-1"


def build_sqs_client(settings: Settings, *, long_poll: bool = False) -> SQSClient:
    """An SQS client with retries and timeouts chosen for the caller.

    botocore's "standard" retry mode backs off exponentially with jitter on throttling,
    5xx answers and connection errors. A long-polling caller needs a read timeout longer
    than its wait time, or every empty poll would look like a network failure.
    """
    sqs = settings.sqs
    session = boto3.session.Session(
        profile_name=settings.aws.profile, region_name=settings.aws.region
    )
    read_timeout = sqs.read_timeout + (sqs.wait_time_seconds if long_poll else 0)
    config = Config(
        region_name=session.region_name or DEFAULT_REGION,
        retries={"mode": "standard", "total_max_attempts": sqs.max_attempts},
        connect_timeout=sqs.connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=32,
        tcp_keepalive=True,
    )
    endpoint = str(sqs.endpoint_url).rstrip("/") if sqs.endpoint_url else None
    return session.client("sqs", endpoint_url=endpoint, config=config)
