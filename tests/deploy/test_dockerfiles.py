"""Dockerfile.producer and Dockerfile.consumer: parsed and checked, their CMD and HEALTHCHECK
run as plain processes (there is no Docker engine here)."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.processes import free_port
from shared.settings import ConsumerSettings, ProducerSettings, Settings
from shared.topology.resources import ensure_queues
from tests.deploy.test_compose import environment, published_ports, service, setting_path
from tests.support import ROOT, Service, service_env, wait_for

PACKAGES = ("producer", "consumer")
DEFAULT_PORTS = {"producer": ProducerSettings().port, "consumer": ConsumerSettings().port}
BASE_IMAGE = re.compile(r"python:(?P<minor>3\.\d+)-slim-(?P<distro>[a-z]+)")
RUNTIME_ENV = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
"""Variables for the interpreter; every other ENV name in a final stage must be a setting."""
INDEX_OPTIONS = re.compile(
    r"index[-_]url|--index\b|--default-index|UV_INDEX|UV_DEFAULT_INDEX|PIP_INDEX|"
    r"PIP_EXTRA|find[-_]links|--trusted-host",
    re.IGNORECASE,
)
DEPLOY_FILES = ("Dockerfile.producer", "Dockerfile.consumer", "docker-compose.yml", ".dockerignore")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops these, inside a continuation too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, f"line continuation at the end of the file (from line {start})"
    return instructions


def split_stages(instructions: list[Instruction]) -> list[Stage]:
    stages: list[Stage] = []
    for item in instructions:
        if item.keyword == "FROM":
            words = [word for word in item.args.split() if not word.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            assert len(words) in (1, 3), f"line {item.line}: FROM {item.args}"
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"line {item.line}: {item.keyword} before the first FROM"
            stages[-1].instructions.append(item)
    return stages


def split_flags(args: str) -> tuple[dict[str, str], str]:
    """Leading `--name=value` flags of COPY, HEALTHCHECK and the like, then the rest."""
    flags: dict[str, str] = {}
    rest = args
    while match := re.match(r"--([\w-]+)=(\S+)\s+", rest):
        flags[match.group(1)] = match.group(2)
        rest = rest[match.end() :]
    return flags, rest


def exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the exec (JSON) form, not a shell string: {args}"
    value = json.loads(args)
    assert isinstance(value, list)
    assert all(isinstance(part, str) for part in value)
    return [str(part) for part in value]


def env_pairs(args: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for word in shlex.split(args):
        name, sep, value = word.partition("=")
        assert sep, f"ENV {args}: use the NAME=value form"
        pairs[name] = value
    return pairs


def stages_of(package: str) -> list[Stage]:
    return split_stages(parse_dockerfile((ROOT / f"Dockerfile.{package}").read_text()))


def final_stage(package: str) -> Stage:
    return stages_of(package)[-1]


def final_env(package: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in final_stage(package).all("ENV"):
        env.update(env_pairs(item.args))
    return env


def cmd_of(package: str) -> list[str]:
    commands = final_stage(package).all("CMD")
    assert len(commands) == 1
    return exec_form(commands[0].args)


def healthcheck_of(package: str) -> tuple[dict[str, str], list[str]]:
    checks = final_stage(package).all("HEALTHCHECK")
    assert len(checks) == 1, "exactly one HEALTHCHECK in the final stage"
    flags, rest = split_flags(checks[0].args)
    keyword, _, command = rest.partition(" ")
    assert keyword.upper() == "CMD"
    return flags, exec_form(command.strip())


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Enough of .dockerignore's matching for our patterns (no `!` exceptions)."""
    assert not any(pattern.startswith("!") for pattern in patterns)
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatchcase(prefix, pattern.removeprefix("**/"))
        or fnmatch.fnmatchcase(Path(prefix).name, pattern.removeprefix("**/"))
        for prefix in prefixes
        for pattern in patterns
    )


# --- the parser itself -------------------------------------------------------------------


def test_parser_joins_continuations_and_drops_comments() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim-bookworm AS build\n"
        "RUN one \\\n"
        "    # a comment inside the continuation\n"
        "    && two \\\n"
        "\n"
        "    && three\n"
        "from scratch\n"
        'CMD ["x"]\n'
    )
    instructions = parse_dockerfile(text)
    assert instructions == [
        Instruction("FROM", "python:3.11-slim-bookworm AS build", 2),
        Instruction("RUN", "one && two && three", 3),
        Instruction("FROM", "scratch", 8),
        Instruction("CMD", '["x"]', 9),
    ]
    stages = split_stages(instructions)
    assert [(stage.base, stage.name) for stage in stages] == [
        ("python:3.11-slim-bookworm", "build"),
        ("scratch", None),
    ]
    with pytest.raises(AssertionError, match="continuation"):
        parse_dockerfile("FROM a\nRUN b \\\n")


def test_ignore_matching() -> None:
    patterns = [".venv", "**/__pycache__", "tests"]
    assert ignored(".venv/bin/python", patterns)
    assert ignored("shared/__pycache__/x.pyc", patterns)
    assert ignored("tests", patterns)
    assert not ignored("shared/settings.py", patterns)


# --- static checks -------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_multi_stage_on_one_pinned_slim_base(package: str) -> None:
    stages = stages_of(package)
    assert len(stages) >= 2
    python_version = (ROOT / ".python-version").read_text().strip()
    for stage in stages:
        match = BASE_IMAGE.fullmatch(stage.base)
        assert match, f"{stage.base}: want python:<minor>-slim-<distro>, pinned to a release"
        assert match.group("minor") == python_version
    # The venv's interpreter links point into the base image: both stages must share it.
    assert len({stage.base for stage in stages}) == 1
    assert stages[0].name
    assert stages[-1].name != stages[0].name
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python_version}"


@pytest.mark.parametrize("package", PACKAGES)
def test_final_stage_runs_as_a_non_root_user(package: str) -> None:
    stage = final_stage(package)
    users = stage.all("USER")
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].args.partition(":")
    assert user not in {"root", "0"}
    assert group not in {"root", "0"}
    if user.isdigit():
        created = " ".join(item.args for item in stage.all("RUN"))
        assert re.search(rf"useradd\b.*--uid {user}\b", created), f"uid {user} never created"


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_are_locked_cached_and_without_dev(package: str) -> None:
    build = stages_of(package)[0]
    runs = build.all("RUN")
    syncs = [item for item in runs if "uv sync" in item.args]
    assert len(syncs) == 2
    for item in syncs:
        words = item.args.split()
        assert "--frozen" in words
        assert "--no-dev" in words
        assert not {"--dev", "--all-groups", "--group", "--all-extras"} & set(words)
    assert "--no-install-project" in syncs[0].args.split()
    assert "--no-install-project" not in syncs[1].args.split()

    installs = [item for item in runs if re.search(r"\bpip install\b", item.args)]
    assert len(installs) == 1
    assert re.fullmatch(r"pip install uv==\d+\.\d+\.\d+", installs[0].args)

    # Layer cache: only the lock and metadata before the dependency sync, the code after.
    order = build.instructions
    first_sync = order.index(syncs[0])
    copied_before = [
        split_flags(item.args)[1].split()[:-1]
        for item in order[:first_sync]
        if item.keyword == "COPY"
    ]
    assert sorted(source for sources in copied_before for source in sources) == sorted(
        ["pyproject.toml", "uv.lock", "README.md"]
    )
    code_copies = [
        index
        for index, item in enumerate(order)
        if item.keyword == "COPY" and item.args.split()[0].rstrip("/") in {"shared", *PACKAGES}
    ]
    assert code_copies
    assert all(first_sync < index < order.index(syncs[1]) for index in code_copies)
    env: dict[str, str] = {}
    for item in build.all("ENV"):
        env.update(env_pairs(item.args))
    assert env.get("UV_COMPILE_BYTECODE") == "1"
    assert env.get("UV_PYTHON_DOWNLOADS") == "never"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_image_can_export_traces_with_the_locked_otel_extra(package: str) -> None:
    """Setting OTEL_EXPORTER_OTLP_ENDPOINT is all a deployment should need."""
    syncs = [item for item in stages_of(package)[0].all("RUN") if "uv sync" in item.args]
    for item in syncs:
        words = item.args.split()
        assert words[words.index("--extra") + 1] == "otel"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (ours,) = [entry for entry in lock["package"] if entry.get("source") == {"editable": "."}]
    extra = {dependency["name"] for dependency in ours["optional-dependencies"]["otel"]}
    assert {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"} <= extra


@pytest.mark.parametrize("name", DEPLOY_FILES)
def test_no_package_index_or_remote_url(name: str) -> None:
    text = (ROOT / name).read_text()
    assert not INDEX_OPTIONS.search(text)
    hosts = set(re.findall(r"https?://([^/:'\"\s]+)", text))
    assert hosts <= {"localhost", "127.0.0.1", "localstack"}, hosts


@pytest.mark.parametrize("package", PACKAGES)
def test_copy_sources_exist_in_the_build_context(package: str) -> None:
    patterns = dockerignore_patterns()
    stages = stages_of(package)
    assert not any(stage.all("ADD") for stage in stages), "COPY, not ADD"
    for position, stage in enumerate(stages):
        for item in stage.all("COPY"):
            flags, rest = split_flags(item.args)
            words = exec_form(rest) if rest.startswith("[") else rest.split()
            sources = words[:-1]
            assert sources, f"line {item.line}: COPY without a source"
            if "from" in flags:
                earlier = {earlier.name for earlier in stages[:position]}
                assert flags["from"] in earlier, f"line {item.line}: unknown stage"
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"line {item.line}: {source} is not in the repo"
                assert not ignored(source.rstrip("/"), patterns), f"{source} is .dockerignored"


@pytest.mark.parametrize("package", PACKAGES)
def test_runtime_copies_only_the_venv_and_the_code_it_runs(package: str) -> None:
    copies = [split_flags(item.args) for item in final_stage(package).all("COPY")]
    assert all(flags.get("from") == stages_of(package)[0].name for flags, _ in copies)
    copied = {rest.split()[0] for _, rest in copies}
    assert copied == {"/app/.venv", "/app/shared", f"/app/{package}"}
    assert final_env(package)["PATH"].startswith("/app/.venv/bin:")
    workdirs = final_stage(package).all("WORKDIR")
    assert [item.args for item in workdirs] == ["/app"]


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = dockerignore_patterns()
    local = (".venv", ".git", "tests", "test-artifacts", "docs", ".mypy_cache", ".pytest_cache")
    for path in local:
        assert ignored(path, patterns), path
    assert ignored("shared/__pycache__", patterns)
    assert ignored("consumer/__pycache__/worker.cpython-311.pyc", patterns)
    for path in ("pyproject.toml", "uv.lock", "README.md", "shared/settings.py", "producer/static"):
        assert not ignored(path, patterns), path


@pytest.mark.parametrize("package", PACKAGES)
def test_environment_is_unbuffered_and_names_real_settings(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = final_env(package)
    assert env["PYTHONUNBUFFERED"] == "1"
    settings_env = {name: value for name, value in env.items() if name not in RUNTIME_ENV}
    unknown = [name for name in settings_env if setting_path(name) is None]
    assert unknown == []
    for name in settings_env:
        monkeypatch.setenv(name, settings_env[name])
    group = Settings(_env_file=None).model_dump()[package]
    assert group["host"] == "0.0.0.0", "inside a container, listen on every interface"


@pytest.mark.parametrize("package", PACKAGES)
def test_one_port_everywhere(package: str) -> None:
    """EXPOSE, the default setting, the healthcheck URL and compose all name the same port."""
    port = DEFAULT_PORTS[package]
    assert [item.args for item in final_stage(package).all("EXPOSE")] == [str(port)]
    assert final_env(package)[f"{package.upper()}_PORT"] == str(port)
    _, command = healthcheck_of(package)
    assert re.findall(r"http://127\.0\.0\.1:(\d+)/healthz", command[-1]) == [str(port)]
    assert published_ports(package) == {port: port}
    assert environment(package)[f"{package.upper()}_PORT"] == str(port)


@pytest.mark.parametrize("package", PACKAGES)
def test_cmd_runs_the_package_module(package: str) -> None:
    command = cmd_of(package)
    assert command == ["python", "-m", package]
    spec = importlib.util.find_spec(f"{command[2]}.__main__")
    assert spec is not None
    assert spec.origin is not None
    assert Path(spec.origin).resolve() == ROOT / package / "__main__.py"
    assert not final_stage(package).all("ENTRYPOINT")


@pytest.mark.parametrize("package", PACKAGES)
def test_healthcheck_uses_python_not_curl(package: str) -> None:
    flags, command = healthcheck_of(package)
    assert command[:2] == ["python", "-c"]
    assert len(command) == 3
    compile(command[2], "<healthcheck>", "exec")
    assert "urllib.request" in command[2]
    assert "curl" not in command[2]
    assert {"interval", "timeout", "retries"} <= set(flags)
    # compose repeats it for the service (the queues job, on the same image, turns it off).
    assert service(package)["healthcheck"]["test"] == ["CMD", *command]


# --- CMD and HEALTHCHECK as real processes -------------------------------------------------


def run_healthcheck(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command[1:]], capture_output=True, text=True, timeout=15, check=False
    )


def healthcheck_on(package: str, port: int) -> list[str]:
    """The image's HEALTHCHECK, asking `port` instead of the fixed one in the Dockerfile."""
    _, command = healthcheck_of(package)
    script, count = re.subn(
        rf"http://127\.0\.0\.1:{DEFAULT_PORTS[package]}/", f"http://127.0.0.1:{port}/", command[2]
    )
    assert count == 1
    return [*command[:2], script]


@pytest.mark.e2e
@pytest.mark.parametrize("package", PACKAGES)
def test_cmd_serves_and_healthcheck_follows_it(
    package: str, moto_endpoint: str, tmp_path: Path
) -> None:
    ensure_queues(Settings(_env_file=None, sqs={"endpoint_url": moto_endpoint}))
    port = free_port()
    healthcheck = healthcheck_on(package, port)
    assert run_healthcheck(healthcheck).returncode != 0, "healthy before anything listens"

    prefix = package.upper()
    image_env = {name: value for name, value in final_env(package).items() if name != "PATH"}
    overrides = {
        **image_env,
        f"{prefix}_HOST": "127.0.0.1",
        f"{prefix}_PORT": str(port),
        "SQS_WAIT_TIME_SECONDS": "1",
    }
    if package == "consumer":
        overrides["CONSUMER_HANDLERS"] = environment("consumer")["CONSUMER_HANDLERS"]
    command = cmd_of(package)
    process = Service(
        command[1:], service_env(moto_endpoint, **overrides), tmp_path / f"{package}.log"
    )
    try:

        def healthy() -> bool:
            assert process.alive(), f"{package} exited early:\n{process.output}"
            return run_healthcheck(healthcheck).returncode == 0

        wait_for(healthy, timeout=30, interval=0.3, what=f"{package} healthcheck to pass")
    finally:
        code = process.stop(timeout=30)

    assert code == 0, process.output
    result = run_healthcheck(healthcheck)
    assert result.returncode != 0, "healthcheck still passes with the service stopped"
