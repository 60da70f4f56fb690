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

import botocore.session
from botocore.config import Config

from shared.aws.request_metrics import count_requests

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

DEFAULT_REGION = "us-east-1"
Service = Literal["sqs", "sns", "dynamodb", "s3", "cloudwatch"]


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
@overload
def build_client(
    service: Literal["s3"], settings: Settings, *, long_poll: bool = ...
) -> S3Client: ...
@overload
def build_client(
    service: Literal["cloudwatch"], settings: Settings, *, long_poll: bool = ...
) -> CloudWatchClient: ...


def build_client(service: Service, settings: Settings, *, long_poll: bool = False) -> Any:
    """A client for `service` with our retries and timeouts, its requests counted.

    A long-polling caller gets a read timeout longer than its wait time, or every empty
    poll would look like a network failure.
    """
    sqs = settings.sqs
    read_timeout = sqs.read_timeout + (sqs.wait_time_seconds if long_poll else 0)
    # botocore's own session, not boto3's: importing AWS's extended client replaces
    # `boto3.session.Session` process-wide with one whose SQS clients rewrite bodies and
    # receipt handles, which would take large payloads out of our hands.
    session = botocore.session.Session(profile=settings.aws.profile)
    region = settings.aws.region or session.get_config_variable("region") or DEFAULT_REGION
    config = Config(
        # botocore's "standard" retries back off exponentially with jitter on throttling,
        # 5xx answers and connection errors; timeouts are bounded so a dead endpoint fails fast.
        region_name=region,
        retries={"mode": "standard", "total_max_attempts": sqs.max_attempts},
        connect_timeout=sqs.connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=32,
        tcp_keepalive=True,
    )
    url = endpoint_url(service, settings)
    if service == "s3" and (url or os.environ.get("AWS_ENDPOINT_URL_S3")):
        # A local endpoint on 127.0.0.1 has no bucket subdomains: address buckets by path.
        config = config.merge(Config(s3={"addressing_style": "path"}))
    client = session.create_client(service, endpoint_url=url, config=config)
    count_requests(client)
    return client


def endpoint_url(service: Service, settings: Settings) -> str | None:
    """`SQS_ENDPOINT_URL`, unless botocore's `AWS_ENDPOINT_URL_<SERVICE>` is set: then None,
    so botocore reads that variable itself. None without either means AWS."""
    if os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"):
        return None
    url = settings.sqs.endpoint_url
    return str(url).rstrip("/") if url else None
