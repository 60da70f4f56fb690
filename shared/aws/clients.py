"""Building boto3 clients: one code path for AWS, localstack and moto's server, every service.

Credentials always come from boto3's own chain (environment variables, `AWS_PROFILE`
with `~/.aws`, instance roles); only the endpoint differs between environments. Local
endpoints serve every service on one port, so each service uses `SQS_ENDPOINT_URL` too,
unless botocore's own per-service variable names another (`AWS_ENDPOINT_URL_DYNAMODB`,
say, for a DynamoDB on another endpoint than the queues).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from shared.aws.request_metrics import count_requests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

DEFAULT_REGION = "us-east-1"
Service = Literal["sqs", "sns", "dynamodb"]


@overload
def build_client(
    service: Literal["sqs"], settings: Settings, *, long_poll: bool = ...
) -> SQSClient: ...
@overload
def build_client(
    service: Literal["sns"], settings: Settings, *, long_poll: bool = ...
) -> SNSClient: ...
@overload
def build_client(
    service: Literal["dynamodb"], settings: Settings, *, long_poll: bool = ...
) -> DynamoDBClient: ...


def build_client(service: Service, settings: Settings, *, long_poll: bool = False) -> Any:
    """A client for `service` with our retries and timeouts, its requests counted.

    A long-polling caller gets a read timeout longer than its wait time, or every empty
    poll would look like a network failure.
    """
    sqs = settings.sqs
    read_timeout = sqs.read_timeout + (sqs.wait_time_seconds if long_poll else 0)
    session = boto3.session.Session(
        profile_name=settings.aws.profile, region_name=settings.aws.region
    )
    config = Config(
        # botocore's "standard" retries back off exponentially with jitter on throttling,
        # 5xx answers and connection errors; timeouts are bounded so a dead endpoint fails fast.
        region_name=session.region_name or DEFAULT_REGION,
        retries={"mode": "standard", "total_max_attempts": sqs.max_attempts},
        connect_timeout=sqs.connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=32,
        tcp_keepalive=True,
    )
    client = session.client(service, endpoint_url=endpoint_url(service, settings), config=config)
    count_requests(client)
    return client


def endpoint_url(service: Service, settings: Settings) -> str | None:
    """`SQS_ENDPOINT_URL`, unless botocore's `AWS_ENDPOINT_URL_<SERVICE>` is set: then None,
    so botocore reads that variable itself. None without either means AWS."""
    if os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"):
        return None
    url = settings.sqs.endpoint_url
    return str(url).rstrip("/") if url else None
