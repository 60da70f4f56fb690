"""The environment the benchmark's children and its own boto3 clients run with.

Service settings (`SQS_*`, `PRODUCER_*`, `CONSUMER_*`) are set by the benchmark alone, and
real AWS credentials never reach a local endpoint: every process gets dummy ones.
"""

from __future__ import annotations

import argparse
import os

SERVICE_PREFIXES = ("SQS_", "PRODUCER_", "CONSUMER_")


def child_env(overrides: list[tuple[str, str]]) -> dict[str, str]:
    """The environment for every child: this one without service settings or real AWS
    credentials, plus dummy credentials, plus `--env`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def use_own_env(env: dict[str, str]) -> None:
    """The bench's own boto3 clients see the same credentials and no service settings."""
    for name in [k for k in os.environ if k.startswith(SERVICE_PREFIXES)]:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if not k.startswith(SERVICE_PREFIXES)})
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def key_value(text: str) -> tuple[str, str]:
    """`NAME=VALUE` from the command line, as a pair."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def add_env_option(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    """A repeatable `NAME=VALUE` option for the services' environment, read as pairs."""
    parser.add_argument(
        flag, type=key_value, action="append", default=[], metavar="NAME=VALUE", help=help_text
    )
