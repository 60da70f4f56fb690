"""Building boto3 clients: one code path for AWS, localstack and moto's server.

Credentials always come from boto3's own chain (environment variables, `AWS_PROFILE`
with `~/.aws`, instance roles); only the endpoint differs between environments. Local
endpoints (moto, localstack) serve every service on one port, so SNS and DynamoDB use the
SQS endpoint setting too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from shared.telemetry import count_requests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

DEFAULT_REGION = "us-east-1"


def _session(settings: Settings) -> boto3.session.Session:
    return boto3.session.Session(profile_name=settings.aws.profile, region_name=settings.aws.region)


def _config(session: boto3.session.Session, settings: Settings, read_timeout: float) -> Config:
    """botocore's "standard" retries back off exponentially with jitter on throttling,
    5xx answers and connection errors; timeouts are bounded so a dead endpoint fails fast."""
    return Config(
        region_name=session.region_name or DEFAULT_REGION,
        retries={"mode": "standard", "total_max_attempts": settings.sqs.max_attempts},
        connect_timeout=settings.sqs.connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=32,
        tcp_keepalive=True,
    )


def _endpoint(settings: Settings) -> str | None:
    url = settings.sqs.endpoint_url
    return str(url).rstrip("/") if url else None


def build_sqs_client(settings: Settings, *, long_poll: bool = False) -> SQSClient:
    """An SQS client; a long-polling caller gets a read timeout longer than its wait time,
    or every empty poll would look like a network failure."""
    sqs = settings.sqs
    read_timeout = sqs.read_timeout + (sqs.wait_time_seconds if long_poll else 0)
    session = _session(settings)
    client = session.client(
        "sqs", endpoint_url=_endpoint(settings), config=_config(session, settings, read_timeout)
    )
    count_requests(client)
    return client


def build_dynamodb_client(settings: Settings) -> DynamoDBClient:
    session = _session(settings)
    client = session.client(
        "dynamodb",
        endpoint_url=_endpoint(settings),
        config=_config(session, settings, settings.sqs.read_timeout),
    )
    count_requests(client)
    return client


def build_sns_client(settings: Settings) -> SNSClient:
    """An SNS client with the SQS client's endpoint, credentials, retries and timeouts."""
    session = _session(settings)
    client = session.client(
        "sns",
        endpoint_url=_endpoint(settings),
        config=_config(session, settings, settings.sqs.read_timeout),
    )
    count_requests(client)
    return client
