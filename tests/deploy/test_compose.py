"""docker-compose.yml: valid compose, wired to our real settings, its commands really work.

There is no Docker engine here, so the file is checked statically (against the official
compose-spec schema and our `Settings`) and its commands are run as plain processes.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import jsonschema
import pytest
import yaml
from pydantic import AnyUrl, BaseModel, SecretStr
from typing_extensions import override

from shared.messages.dead_letter import dead_letter_name
from shared.settings import Settings, SqsSettings
from shared.topology.topics_file import load_topics
from tests.support import ROOT, service_env

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

SERVICES = {"localstack", "queues", "producer", "consumer"}
OUR_SERVICES = ("queues", "producer", "consumer")
LONG_RUNNING = ("localstack", "producer", "consumer")
SHARED_ENV_KEY = "x-sqs-environment"
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
BOTO3_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
"""Read by boto3's own credential chain, not by `Settings`."""


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def load_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert isinstance(schema, dict)
    return schema


def compose_validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def schema_errors(document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in compose_validator().iter_errors(document)
    ]


def service(name: str) -> dict[str, Any]:
    services = load_compose()["services"]
    assert name in services, f"no service {name!r} in {COMPOSE_FILE.name}"
    spec = services[name]
    assert isinstance(spec, dict)
    return spec


def environment(name: str) -> dict[str, str]:
    """A service's environment as compose passes it: names to string values."""
    raw = service(name).get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    for key, value in raw.items():
        # Unquoted YAML scalars such as 8000, true or `on` arrive as numbers and booleans.
        assert isinstance(value, str), f"{name}: {key}={value!r} should be a quoted string"
    return dict(raw)


def published_ports(name: str) -> dict[int, int]:
    """Container port to host port, from the short `HOST:CONTAINER` syntax."""
    ports: dict[int, int] = {}
    for entry in service(name).get("ports", []):
        assert isinstance(entry, str), f"{name}: use the quoted short syntax, got {entry!r}"
        host, container = entry.rsplit(":", 2)[-2:]
        ports[int(container)] = int(host)
    return ports


def setting_path(env_name: str) -> tuple[str, ...] | None:
    """Where `Settings` puts an environment variable, or None when it ignores it.

    Mirrors the settings' `env_nested_delimiter="_"` with `env_nested_max_split=1`:
    a top-level field by its own name, else `GROUP_FIELD`.
    """
    key = env_name.lower()
    if key in Settings.model_fields:
        return (key,)
    group, _, field = key.partition("_")
    info = Settings.model_fields.get(group)
    model = info.annotation if info else None
    if isinstance(model, type) and issubclass(model, BaseModel) and field in model.model_fields:
        return (group, field)
    return None


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`Settings` built from exactly `env`: the test process's own variables removed first."""
    prefixes = tuple(f"{name.upper()}_" for name in Settings.model_fields)
    for name in list(os.environ):
        if name.upper().startswith(prefixes) or name.upper() == "LOG_LEVEL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def as_env_text(value: object) -> str:
    """A parsed setting written back the way the environment spells it."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, AnyUrl):
        return str(value).rstrip("/")
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def value_at(settings: Settings, path: tuple[str, ...]) -> object:
    value: object = settings
    for part in path:
        value = getattr(value, part)
    return value


# --- the schema and the file's validity ------------------------------------------------------


def test_vendored_schema_is_the_compose_spec() -> None:
    schema = load_schema()
    assert schema["title"] == "Compose Specification"
    assert schema["$schema"].startswith("https://json-schema.org/draft/2019-09/schema")
    assert {"service", "healthcheck", "command"} <= set(schema["definitions"])
    conditions = schema["definitions"]["service"]["properties"]["depends_on"]["oneOf"][1]
    condition = conditions["patternProperties"]["^[a-zA-Z0-9._-]+$"]["properties"]["condition"]
    assert "service_completed_successfully" in condition["enum"]
    assert isinstance(compose_validator(), jsonschema.Draft201909Validator)


def test_compose_file_is_valid_against_the_spec() -> None:
    assert schema_errors(load_compose()) == []


def _unknown_service_key(doc: dict[str, Any]) -> None:
    doc["services"]["producer"]["imagee"] = "typo"


def _bad_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"]["consumer"]["depends_on"]["queues"]["condition"] = "service_ready"


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["service"] = doc.pop("services")


def _healthcheck_as_number(doc: dict[str, Any]) -> None:
    doc["services"]["localstack"]["healthcheck"]["test"] = 42


def _ports_as_mapping(doc: dict[str, Any]) -> None:
    doc["services"]["producer"]["ports"] = {"8000": 8000}


@pytest.mark.parametrize(
    "breakage",
    [
        _unknown_service_key,
        _bad_depends_on_condition,
        _unknown_top_level_key,
        _healthcheck_as_number,
        _ports_as_mapping,
    ],
)
def test_schema_rejects_a_broken_compose_file(breakage: Any) -> None:
    """The schema really constrains our document: each small breakage of it is caught."""
    broken = copy.deepcopy(load_compose())
    breakage(broken)
    assert schema_errors(broken) != []


# --- services, images, start order, ports ------------------------------------------------


def test_the_four_services() -> None:
    assert set(load_compose()["services"]) == SERVICES


def test_localstack_is_pinned_and_serves_sqs_on_path_urls() -> None:
    localstack = service("localstack")
    assert localstack["image"] == LOCALSTACK_IMAGE
    env = environment("localstack")
    assert env["SERVICES"] == "sqs,sns,dynamodb"
    assert env["SQS_ENDPOINT_STRATEGY"] == "path"
    assert "LOCALSTACK_AUTH_TOKEN" not in env


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(name: str) -> None:
    healthcheck = service(name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert isinstance(test, list)
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


def test_queues_is_a_one_shot_job() -> None:
    queues = service("queues")
    assert queues.get("restart", "no") == "no"
    assert "ports" not in queues
    assert queues["build"]["dockerfile"] == "Dockerfile.producer"
    assert (ROOT / queues["build"]["context"] / queues["build"]["dockerfile"]).is_file()


def test_start_order() -> None:
    assert service("queues")["depends_on"] == {"localstack": {"condition": "service_healthy"}}
    for name in ("producer", "consumer"):
        assert service(name)["depends_on"] == {
            "queues": {"condition": "service_completed_successfully"}
        }


@pytest.mark.parametrize(
    ("name", "dockerfile"),
    [("producer", "Dockerfile.producer"), ("consumer", "Dockerfile.consumer")],
)
def test_services_build_from_their_dockerfile(name: str, dockerfile: str) -> None:
    build = service(name)["build"]
    assert build["dockerfile"] == dockerfile
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / dockerfile).is_file()


def test_ports() -> None:
    assert published_ports("localstack") == {4566: 4566}
    assert published_ports("producer") == {8000: 8000}
    assert published_ports("consumer") == {8001: 8001}


def test_services_listen_where_their_ports_are_published(monkeypatch: pytest.MonkeyPatch) -> None:
    producer = settings_from(environment("producer"), monkeypatch)
    assert producer.producer.host == "0.0.0.0"
    assert set(published_ports("producer")) == {producer.producer.port}
    consumer = settings_from(environment("consumer"), monkeypatch)
    assert consumer.consumer.host == "0.0.0.0"
    assert set(published_ports("consumer")) == {consumer.consumer.port}


def test_consumer_outlives_a_long_poll_when_stopped() -> None:
    grace = service("consumer")["stop_grace_period"]
    match = re.fullmatch(r"(\d+)s", grace)
    assert match, f"stop_grace_period {grace!r} is not in seconds"
    limits = SqsSettings.model_fields["wait_time_seconds"].metadata
    longest_poll = max(limit.le for limit in limits if hasattr(limit, "le"))
    assert longest_poll == 20
    assert int(match.group(1)) > longest_poll, "SIGTERM must not cut a long poll short"


# --- environment ---------------------------------------------------------------------------


def test_shared_environment_is_one_anchor_merged_into_every_service() -> None:
    text = COMPOSE_FILE.read_text()
    assert re.search(rf"^{SHARED_ENV_KEY}: &(\S+)$", text, re.MULTILINE)
    shared = load_compose()[SHARED_ENV_KEY]
    assert isinstance(shared, dict)
    for name in OUR_SERVICES:
        env = environment(name)
        assert env.items() >= shared.items(), f"{name} lacks the shared environment"


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_services_reach_localstack_by_service_name(name: str) -> None:
    url = urlsplit(environment(name)["SQS_ENDPOINT_URL"])
    assert url.scheme == "http"
    assert url.hostname == "localstack"
    assert url.hostname in SERVICES
    assert url.port in published_ports("localstack")


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_environment_names_are_real_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(name)
    unknown = [key for key in env if key not in BOTO3_CREDENTIALS and setting_path(key) is None]
    assert unknown == [], f"{name}: not settings in shared/settings.py: {unknown}"
    settings = settings_from(env, monkeypatch)
    for key, value in env.items():
        path = setting_path(key)
        if path is not None:
            assert as_env_text(value_at(settings, path)) == value, key
    assert settings.aws.region == "us-east-1"
    assert settings.sqs.endpoint_url is not None
    assert settings.sqs.endpoint_url.host == "localstack"
    assert settings.sqs.queue_name != settings.sqs.dlq_name


def test_consumer_loads_the_example_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(environment("consumer"), monkeypatch)
    assert settings.consumer.handlers == ["consumer.examples"]
    for module in settings.consumer.handlers:
        assert importlib.util.find_spec(module) is not None, module


def test_no_hard_coded_queue_urls_arns_or_accounts() -> None:
    text = COMPOSE_FILE.read_text()
    assert "arn:" not in text
    assert not re.search(r"\b\d{12}\b", text), "an AWS account id"
    assert "amazonaws.com" not in text
    for name in OUR_SERVICES:
        for key, value in environment(name).items():
            assert "QUEUE_URL" not in key
            assert urlsplit(value).path in {"", "/"} or not value.startswith("http"), key


# --- commands ------------------------------------------------------------------------------


def queues_command() -> list[str]:
    command = service("queues")["command"]
    assert isinstance(command, list), "use the exec form: no shell in between"
    return [str(part) for part in command]


def test_queues_command_resolves_to_a_real_module() -> None:
    command = queues_command()
    assert command[:2] == ["python", "-m"]
    spec = importlib.util.find_spec(command[2])
    assert spec is not None
    assert spec.origin is not None
    assert Path(spec.origin).resolve() == ROOT / "shared" / "bootstrap.py"
    assert "--wait" in command
    assert float(command[command.index("--wait") + 1]) > 0


@pytest.mark.e2e
def mounted_topics_file(name: str) -> Path:
    """The host file a service mounts at its TOPICS_FILE path."""
    target = environment(name)["TOPICS_FILE"]
    for volume in service(name).get("volumes", []):
        source, mounted, *_ = str(volume).split(":")
        if mounted == target:
            return (ROOT / source).resolve()
    raise AssertionError(f"{name}: TOPICS_FILE {target} is not mounted")


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_every_service_reads_the_same_mounted_topics_file(name: str) -> None:
    assert mounted_topics_file(name).is_file()
    assert mounted_topics_file(name) == mounted_topics_file("queues")


def test_the_consumer_consumes_the_main_queue_and_every_subscribed_queue() -> None:
    env = environment("consumer")
    settings = Settings(_env_file=None, topics={"file": mounted_topics_file("consumer")})
    subscribed = [s.queue for t in load_topics(settings).topics for s in t.subscriptions]
    consumed = env["CONSUMER_QUEUES"].split(",")
    assert sorted(consumed) == sorted({env["SQS_QUEUE_NAME"], *subscribed})


def test_queues_command_creates_every_queue(moto_endpoint: str) -> None:
    compose_env = environment("queues")
    topics_file = str(mounted_topics_file("queues"))
    env = service_env(
        moto_endpoint,
        **{**compose_env, "SQS_ENDPOINT_URL": moto_endpoint, "TOPICS_FILE": topics_file},
    )
    client = boto3.client(
        "sqs",
        endpoint_url=moto_endpoint,
        region_name=compose_env["AWS_REGION"],
        aws_access_key_id=compose_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=compose_env["AWS_SECRET_ACCESS_KEY"],
    )
    assert client.list_queues().get("QueueUrls", []) == []

    command = queues_command()
    result = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    queue_url = client.get_queue_url(QueueName=compose_env["SQS_QUEUE_NAME"])["QueueUrl"]
    dlq_url = client.get_queue_url(QueueName=compose_env["SQS_DLQ_NAME"])["QueueUrl"]
    assert printed == {"queue_url": queue_url, "dlq_url": dlq_url}
    settings = Settings(_env_file=None, topics={"file": topics_file})
    subscribed = [s.queue for t in load_topics(settings).topics for s in t.subscriptions]
    expected = {
        compose_env["SQS_QUEUE_NAME"],
        compose_env["SQS_DLQ_NAME"],
        compose_env["SQS_EVENTS_QUEUE_NAME"],
        *subscribed,
        *(dead_letter_name(queue) for queue in subscribed),
    }
    names = {url.rsplit("/", 1)[-1] for url in client.list_queues()["QueueUrls"]}
    assert names == expected
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
    assert int(policy["maxReceiveCount"]) == SqsSettings().max_receive_count


class FakeLocalstackHealth:
    """Answers /_localstack/health with whatever body and status the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.body if self.path == "/_localstack/health" else b"{}"
                status = owner.status if self.path == "/_localstack/health" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            @override
            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def fake_localstack() -> Iterator[FakeLocalstackHealth]:
    fake = FakeLocalstackHealth()
    yield fake
    fake.close()


def localstack_health_body(
    sqs: str, sns: str = "available", dynamodb: str = "available", *, compact: bool = False
) -> bytes:
    """Shaped like localstack's answer: every service's state, then edition and version."""
    document = {
        "services": {
            "dynamodb": dynamodb,
            "s3": "available",
            "sns": sns,
            "sqs": sqs,
            "sts": "disabled",
        },
        "edition": "community",
        "version": "4.14.0",
    }
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(document, separators=separators).encode()


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl, as the localstack image has")
@pytest.mark.parametrize(
    ("status", "body", "healthy"),
    [
        (200, localstack_health_body("available"), True),
        (200, localstack_health_body("running"), True),
        (200, localstack_health_body("running", compact=True), True),
        (200, localstack_health_body("starting"), False),
        (200, localstack_health_body("disabled"), False),
        (200, localstack_health_body("error"), False),
        (200, b'{"services": {"sns": "available"}}', False),
        (200, b'{"services": {"sqs": "available"}}', False),
        (200, localstack_health_body("available", "starting"), False),
        (200, localstack_health_body("running", "running", compact=True), True),
        (200, localstack_health_body("available", "available", "starting"), False),
        (200, b'{"services": {"sqs": "available", "sns": "available"}}', False),
        (503, localstack_health_body("available"), False),
    ],
)
def test_localstack_healthcheck_waits_for_sqs_sns_and_dynamodb(
    fake_localstack: FakeLocalstackHealth, status: int, body: bytes, healthy: bool
) -> None:
    test = service("localstack")["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    command, count = re.subn(
        r"http://localhost:4566/",
        f"http://127.0.0.1:{fake_localstack.port}/",
        test[1].replace("$$", "$"),  # compose's own unescaping
    )
    assert count == 1, "the healthcheck should ask localstack's own port once"
    fake_localstack.status = status
    fake_localstack.body = body

    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )

    assert (result.returncode == 0) is healthy, (result.returncode, result.stderr)
