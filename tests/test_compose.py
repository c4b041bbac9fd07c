"""docker-compose.yml, the Dockerfiles and .dockerignore, checked without a Docker engine.

A compose client validates the file where one is installed; everything else is read
from the files themselves, and compared with the settings and with the commands the
Procfile and the end-to-end tests start.
"""

import ast
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest
import yaml

from harness.external_services import unavailable
from harness.processes import WEB_COMMAND, WORKER_COMMAND

REPO_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_DIR / "docker-compose.yml"
WEB_DOCKERFILE = REPO_DIR / "web_app" / "Dockerfile"
WORKER_DOCKERFILE = REPO_DIR / "rabbitmq_celery" / "Dockerfile"
# Where the Dockerfiles put the repository's folders inside the images.
IMAGE_APP_DIR = PurePosixPath("/app")
APP_SERVICES = {"web": "web_app", "worker": "rabbitmq_celery"}
REQUIRED_SERVICES = {"rabbitmq", "redis", "postgres", "web", "collector", "worker"}
# The passwords the file requires, with no default (docs/deployment.md).
REQUIRED_PASSWORDS = {"REDIS_PASSWORD": "compose-config-redis", "POSTGRES_PASSWORD": "compose-config-postgres"}
REDIS_PASSWORD = "${REDIS_PASSWORD:?set REDIS_PASSWORD, see docs/deployment.md}"
POSTGRES_PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, see docs/deployment.md}"
# Variables the images set for Python and pip themselves, not for the projects.
INTERPRETER_VARIABLES = re.compile(r"^(PYTHON\w*|PIP_\w+|PATH)$")
ENVIRON_READERS = {"os.environ.get", "os.getenv", "environ.get", "getenv"}
# django-environ's readers, as the settings call them on their `env = environ.Env()`.
ENV_READERS = {f"env.{kind}" for kind in ("str", "bool", "int", "float", "list", "path", "db_url", "cache_url")}
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
COMPOSE_TIMEOUT = 60


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def environment_of(service: dict) -> dict:
    """The service's environment as a mapping, whichever of the two compose forms it uses."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return environment


def reads_environment(node: ast.AST) -> bool:
    return any(
        isinstance(inner, ast.Attribute) and ast.unparse(inner) in {"os.environ", "os.getenv"}
        for inner in ast.walk(node)
    )


def environment_names_read(path: Path) -> set[str]:
    """Names of the environment variables a Python file reads, directly or through a helper."""
    tree = ast.parse(path.read_text())
    helpers = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and reads_environment(node)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            function = ast.unparse(node.func)
            readers = ENVIRON_READERS | ENV_READERS | helpers
            if function in readers and isinstance(first, ast.Constant):
                names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) in {"os.environ", "environ"}
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return {name for name in names if isinstance(name, str) and VARIABLE_NAME.match(name)}


def project_environment_names(project: str) -> set[str]:
    """Every variable the project's code reads (settings, gunicorn.conf.py...), tests aside."""
    names = set()
    for path in (REPO_DIR / project).rglob("*.py"):
        if "tests" not in path.relative_to(REPO_DIR / project).parts:
            names |= environment_names_read(path)
    return names


def seconds(duration) -> float:
    """A compose duration ("1m30s", "45s", 10) in seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def volume_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service, in short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume["target"]))
        else:
            source, target = volume.split(":")[:2]
            mounts.append((source, target))
    return mounts


def target_of(service: dict, source: str) -> str | None:
    return next((target for src, target in volume_mounts(service) if src == source), None)


def target_source(service: dict, target: str) -> str | None:
    return next((src for src, tgt in volume_mounts(service) if tgt == target), None)


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


# --- the compose client, where one is installed -------------------------------------


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=COMPOSE_TIMEOUT)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def run_compose_config(
    tmp_path: Path, secret_key: str | None, passwords: dict = REQUIRED_PASSWORDS
) -> subprocess.CompletedProcess:
    """`compose config` on the file, with an empty env file so a local .env plays no part."""
    command = compose_command()
    if command is None:
        unavailable("docker-compose", "no compose client installed (docker compose or docker-compose)")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    environment = {
        k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY" and k not in REQUIRED_PASSWORDS
    } | passwords
    if secret_key is not None:
        environment["DJANGO_SECRET_KEY"] = secret_key
    return subprocess.run(
        [*command, "--env-file", str(empty_env_file), "--file", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        env=environment,
        timeout=COMPOSE_TIMEOUT,
    )


def test_compose_client_accepts_the_file(tmp_path):
    result = run_compose_config(tmp_path, secret_key="compose-config-test-key")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) >= REQUIRED_SERVICES
    assert environment_of(resolved["services"]["web"])["DJANGO_SECRET_KEY"] == "compose-config-test-key"
    assert "DJANGO_SECRET_KEY" not in environment_of(resolved["services"]["worker"]), "the web's key stays the web's"
    for name in APP_SERVICES:
        for dependency in ("rabbitmq", "redis"):
            assert resolved["services"][name]["depends_on"][dependency]["condition"] == "service_healthy"


def test_compose_client_needs_no_secret_key(tmp_path):
    result = run_compose_config(tmp_path, secret_key=None)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    # Empty: the images' entry point generates a key on the django-secret volume.
    assert environment_of(resolved["services"]["web"])["DJANGO_SECRET_KEY"] in ("", None)


@pytest.mark.parametrize("missing", sorted(REQUIRED_PASSWORDS))
def test_compose_client_refuses_to_start_without_the_redis_and_postgres_passwords(tmp_path, missing):
    passwords = {name: value for name, value in REQUIRED_PASSWORDS.items() if name != missing}
    result = run_compose_config(tmp_path, secret_key=None, passwords=passwords)
    assert result.returncode != 0
    assert f"set {missing}, see docs/deployment.md" in result.stderr


# --- the file itself -----------------------------------------------------------------


def test_follows_the_compose_specification(compose):
    assert "version" not in compose
    assert set(compose["services"]) >= REQUIRED_SERVICES


def test_shared_settings_are_stated_once_and_used_by_both_projects(compose, services):
    shared = [
        value
        for key, value in compose.items()
        if key.startswith("x-") and isinstance(value, dict) and "CELERY_BROKER_URL" in value
    ]
    assert len(shared) == 1, "the shared environment belongs in one x- extension field"
    shared_environment = shared[0]
    for name in APP_SERVICES:
        environment = environment_of(services[name])
        for key, value in shared_environment.items():
            assert environment.get(key) == value, f"{name} does not use the shared {key}"
    written = keys_as_written(yaml.compose(COMPOSE_FILE.read_text()))
    for key in shared_environment:
        assert written[key] == 1, f"{key} is set twice"


def keys_as_written(node, seen=None) -> Counter:
    """How often each mapping key is written in a YAML document; what an alias repeats counts once."""
    seen = set() if seen is None else seen
    counts: Counter = Counter()
    if id(node) in seen:
        return counts
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            counts[key.value] += 1
            counts += keys_as_written(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            counts += keys_as_written(item, seen)
    return counts


def test_secret_key_comes_from_the_environment_or_the_shared_volume_never_from_the_file(services):
    for name in ("web", "collector"):
        value = environment_of(services[name])["DJANGO_SECRET_KEY"]
        assert value == "${DJANGO_SECRET_KEY:-}", value
        assert target_of(services[name], "django-secret") == "/app/secret"
    # The worker signs nothing the web reads: a key of its own, generated on a volume of its own.
    for name in ("worker", "flower"):
        assert "DJANGO_SECRET_KEY" not in environment_of(services[name])
        assert target_of(services[name], "worker-secret") == "/app/secret"
        assert target_of(services[name], "django-secret") is None
    entrypoint = (REPO_DIR / "docker" / "with-secret-key").read_text()
    assert "key_file=${DJANGO_SECRET_KEY_FILE:-/app/secret/django-secret-key}" in entrypoint


def test_the_projects_reach_the_services_by_their_compose_names(services):
    for name in APP_SERVICES:
        environment = environment_of(services[name])
        assert environment["CELERY_BROKER_URL"] == "amqp://django:${RABBITMQ_PASSWORD:-django}@rabbitmq:5672/rabbit"
        assert environment["CELERY_RESULT_BACKEND"].startswith(f"redis://:{REDIS_PASSWORD}@redis:6379/")
    assert environment_of(services["web"])["DATABASE_URL"].split("@")[1] == "postgres:5432/web_app"


def test_every_variable_set_is_one_the_settings_read(services):
    web_names = project_environment_names("web_app")
    worker_names = project_environment_names("rabbitmq_celery")
    assert {"DJANGO_SECRET_KEY", "CELERY_BROKER_URL", "RESULTS_DIR", "GUNICORN_BIND"} <= web_names
    assert {"DJANGO_SECRET_KEY", "CELERY_BROKER_URL"} <= worker_names
    read_by = {"web": web_names, "worker": worker_names}
    for name, service in services.items():
        if "build" not in service:
            continue
        # Another service built from the projects (Flower, say) may read its own FLOWER_ options.
        known = read_by.get(name, web_names | worker_names)
        unread = {
            key
            for key in environment_of(service)
            if key not in known and not (name not in read_by and key.startswith("FLOWER_"))
        }
        assert not unread, f"{name} sets variables nothing reads: {sorted(unread)}"


def test_every_service_has_a_healthcheck(services):
    for name in REQUIRED_SERVICES:
        healthcheck = services[name].get("healthcheck")
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
        assert healthcheck.get("disable") is not True
        assert seconds(healthcheck["timeout"]) <= seconds(healthcheck["interval"])
        assert healthcheck["retries"] >= 1


def test_rabbitmq_service(services):
    rabbitmq = services["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:") and "management" in rabbitmq["image"]
    assert rabbitmq.get("hostname"), "a fixed hostname keeps the node name, and its data, across restarts"
    data_source = next(src for src, target in volume_mounts(rabbitmq) if target == "/var/lib/rabbitmq")
    assert is_named_volume(data_source)
    assert "rabbitmq-diagnostics" in " ".join(rabbitmq["healthcheck"]["test"])
    assert "ports" not in rabbitmq, "the broker is for the containers only"
    assert "environment" not in rabbitmq, "users come from definitions.json, not RABBITMQ_DEFAULT_*"


def test_rabbitmq_loads_the_repository_definitions_at_boot(services):
    rabbitmq = services["rabbitmq"]
    config_target = target_of(rabbitmq, "./rabbitmq/rabbitmq.conf")
    assert config_target and config_target.startswith("/etc/rabbitmq/")
    assert config_target.endswith(".conf")
    settings: dict[str, str] = {}
    for line in (REPO_DIR / "rabbitmq" / "rabbitmq.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    assert settings["definitions.import_backend"] == "local_filesystem"
    assert target_of(rabbitmq, "./rabbitmq/definitions.json") == settings["definitions.local.path"]


def test_redis_service(services):
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"] if isinstance(redis["command"], list) else shlex.split(redis["command"])
    assert command[command.index("--appendonly") + 1] == "yes"
    # Bounded below the container's memory; past it writes are refused, no key evicted.
    assert command[command.index("--maxmemory") + 1] == "192mb"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert int(command[command.index("--maxmemory") + 1].removesuffix("mb")) < int(redis["mem_limit"].removesuffix("m"))
    assert is_named_volume(next(src for src, target in volume_mounts(redis) if target == "/data"))
    assert "ports" not in redis, "Redis is for the containers only"
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])


def test_redis_requires_a_password_that_every_client_gives(services):
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == REDIS_PASSWORD
    assert environment_of(redis)["REDISCLI_AUTH"] == REDIS_PASSWORD, "its healthcheck and exec authenticate"
    clients = 0
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if isinstance(value, str) and value.startswith("redis://"):
                assert value.startswith(f"redis://:{REDIS_PASSWORD}@redis:6379/"), f"{name}'s {key}"
                clients += 1
    assert clients >= 5, "the result backend of web, collector, worker and Flower, the web's cache"


def test_every_service_runs_without_capabilities_privileges_or_unbounded_resources(services):
    for name, service in services.items():
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        # RabbitMQ's log file and PostgreSQL's socket folder need a writable root.
        if name not in ("rabbitmq", "postgres"):
            assert service["read_only"] is True, name
            assert "/tmp:mode=1777" in service["tmpfs"], name
        assert re.fullmatch(r"\d+[mg]", service["mem_limit"]), name
        assert 0 < service["pids_limit"] <= 1024, name
        if "build" in service:
            # The entry point's chgrp and chmod of the mounted folders, and its change to the app user.
            assert set(service["cap_add"]) == {"CHOWN", "FOWNER", "SETUID", "SETGID"}, name
        else:
            # The images' own users: their entry points need no root.
            assert "cap_add" not in service, name
            assert service["user"] == name, name


def test_no_healthcheck_runs_the_app_s_code_as_root_with_the_key(services):
    for name in ("worker", "flower"):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "with-secret-key" not in test or "setpriv --reuid=app" in test, name


def test_the_collector_s_healthcheck_finds_a_sweep_that_hangs(services):
    collector = services["collector"]
    assert collector["healthcheck"]["test"] == ["CMD-SHELL", "bin/collector-healthcheck"]
    heartbeat = environment_of(collector)["COLLECTOR_HEARTBEAT_FILE"]
    assert heartbeat.startswith("/tmp/"), "on the container's tmpfs"
    script = (REPO_DIR / "web_app" / "bin" / "collector-healthcheck").read_text()
    max_age_line = re.search(r"^MAX_AGE = (\d+)$", script, re.MULTILINE)
    assert max_age_line is not None
    max_age = int(max_age_line.group(1))
    # A sweep's longest bounded wait (two broker reads of 10 s) fits well inside it.
    assert max_age >= 3 * seconds(collector["healthcheck"]["interval"])
    assert seconds(collector["healthcheck"]["start_period"]) > 60, "the start waits up to a minute for migrations"


def test_postgres_service(services):
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    source = target_source(postgres, "/var/lib/postgresql/data")
    assert source is not None and is_named_volume(source)
    assert "ports" not in postgres, "PostgreSQL is for the containers only"
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    environment = environment_of(postgres)
    url = environment_of(services["web"])["DATABASE_URL"]
    user, password = url.removeprefix("postgres://").split("@")[0].split(":", 1)
    assert user == environment["POSTGRES_USER"]
    assert password == environment["POSTGRES_PASSWORD"] == POSTGRES_PASSWORD
    assert url.endswith("/" + environment["POSTGRES_DB"])
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_flower_without_credentials_stops_instead_of_restarting_for_ever(services):
    flower = services["flower"]
    assert flower["profiles"] == ["monitoring"]
    policy, _, tries = flower["restart"].partition(":")
    assert policy == "on-failure" and 0 < int(tries) <= 5
    environment = {name: value for name, value in os.environ.items() if name != "FLOWER_BASIC_AUTH"}
    refused = subprocess.run(
        [str(REPO_DIR / "rabbitmq_celery" / "bin" / "start-flower")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1
    assert "FLOWER_BASIC_AUTH is not set" in refused.stderr


def test_web_service(services):
    web = services["web"]
    assert web["build"]["context"] == "."
    assert web["build"]["dockerfile"] == "web_app/Dockerfile"
    environment = environment_of(web)
    host, port = environment["GUNICORN_BIND"].rsplit(":", 1)
    assert host == "0.0.0.0"
    assert web["ports"] == [f"127.0.0.1:${{WEB_PORT:-8000}}:{port}"]
    assert "localhost" in environment["DJANGO_ALLOWED_HOSTS"].split(",")
    assert target_of(web, "./results") == environment["RESULTS_DIR"]
    assert "command" not in web or web["command"] == ["bin/start-web"]
    assert seconds(web["stop_grace_period"]) > 20, "longer than gunicorn's graceful_timeout"


def test_worker_service_can_be_scaled(services):
    worker = services["worker"]
    assert worker["build"]["context"] == "."
    assert worker["build"]["dockerfile"] == "rabbitmq_celery/Dockerfile"
    for fixed in ("container_name", "ports", "hostname"):
        assert fixed not in worker, f"a fixed {fixed} stops `--scale worker=3`"
    assert "command" not in worker or worker["command"] == ["bin/start-worker"]
    assert seconds(worker["stop_grace_period"]) >= 30, "long enough for Celery's warm shutdown"


def test_web_and_worker_wait_for_healthy_services(services):
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name} needs conditions, not a plain list"
        for dependency in ("rabbitmq", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy"


def test_named_volumes_are_declared(compose, services):
    used = {source for service in services.values() for source, _ in volume_mounts(service) if is_named_volume(source)}
    assert {"rabbitmq-data", "redis-data", "postgres-data", "django-secret", "worker-secret"} <= used
    assert used == set(compose.get("volumes") or {})


# --- the Dockerfiles -------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        keyword, _, arguments = current.strip().partition(" ")
        logical.append((keyword.upper(), arguments.strip()))
        current = ""
    return logical


def last(dockerfile: Path, keyword: str) -> str:
    return [arguments for name, arguments in instructions(dockerfile) if name == keyword][-1]


def env_names(dockerfile: Path) -> set[str]:
    names = set()
    for name, arguments in instructions(dockerfile):
        if name == "ENV":
            names |= {item.split("=", 1)[0] for item in shlex.split(arguments)}
    return names


def procfile() -> dict[str, str]:
    lines = (REPO_DIR / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip())


def test_flower_is_only_in_the_worker_image_s_flower_stage(services):
    assert services["worker"]["build"]["target"] == "worker"
    assert services["flower"]["build"]["target"] == "flower"
    runtime = (REPO_DIR / "requirements.txt").read_text()
    assert "flower" not in runtime and "honcho" not in runtime
    assert ("FROM", "worker AS flower") in instructions(WORKER_DOCKERFILE)


@pytest.mark.parametrize("dockerfile", [WEB_DOCKERFILE, WORKER_DOCKERFILE], ids=["web", "worker"])
def test_dockerfile_builds_a_slim_pinned_non_root_image(dockerfile):
    steps = instructions(dockerfile)
    base = next(arguments for name, arguments in steps if name == "FROM")
    assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*( AS \w+)?", base)
    assert ("COPY", "requirements.txt ./") in steps
    assert any(name == "RUN" and "pip install --requirement requirements.txt" in args for name, args in steps)
    # The entry point starts as root only to open the mounted folders, then runs as app.
    assert last(dockerfile, "ENTRYPOINT") == '["docker-entrypoint"]'
    assert ("COPY", "docker/docker-entrypoint docker/with-secret-key /usr/local/bin/") in steps
    assert "exec setpriv --reuid=app" in (REPO_DIR / "docker" / "docker-entrypoint").read_text()
    assert any('test "${APP_UID}" != 0' in args for name, args in steps if name == "RUN"), (
        "APP_UID=0 is refused with a message"
    )
    assert last(dockerfile, "CMD").startswith("["), "exec form, so the process gets the stop signal"
    for name in env_names(dockerfile):
        assert INTERPRETER_VARIABLES.match(name), f"{name} belongs in docker-compose.yml"


def test_requirements_are_pinned():
    for line in (REPO_DIR / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            assert re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[\w.]+", requirement), requirement


def test_web_image_starts_what_the_procfile_and_the_tests_start():
    command = json.loads(last(WEB_DOCKERFILE, "CMD"))
    workdir = PurePosixPath(last(WEB_DOCKERFILE, "WORKDIR"))
    started_in_image = PurePosixPath(os.path.normpath(workdir / command[0]))
    assert len(command) == 1
    assert procfile()["web"].strip() == "exec web_app/bin/start-web"
    assert started_in_image == IMAGE_APP_DIR / "web_app/bin/start-web"
    assert [str(REPO_DIR / "web_app" / "bin" / "start-web")] == WEB_COMMAND
    assert ("COPY", "web_app/ web_app/") in instructions(WEB_DOCKERFILE)


def test_worker_image_starts_what_the_procfile_and_the_tests_start():
    command = json.loads(last(WORKER_DOCKERFILE, "CMD"))
    workdir = PurePosixPath(last(WORKER_DOCKERFILE, "WORKDIR"))
    started_in_image = PurePosixPath(os.path.normpath(workdir / command[0]))
    assert len(command) == 1
    assert procfile()["worker"].strip() == "exec rabbitmq_celery/bin/start-worker"
    assert started_in_image == IMAGE_APP_DIR / "rabbitmq_celery/bin/start-worker"
    assert [str(REPO_DIR / "rabbitmq_celery" / "bin" / "start-worker")] == WORKER_COMMAND
    assert ("COPY", "rabbitmq_celery/ rabbitmq_celery/") in instructions(WORKER_DOCKERFILE)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves `path` out: it or a folder above it matches a pattern."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    for pattern in patterns:
        for prefix in prefixes:
            prefix_parts = PurePosixPath(prefix).parts
            # A leading **/ matches any number of folders, none included.
            tails = (
                ["/".join(prefix_parts[start:]) for start in range(len(prefix_parts))]
                if pattern.startswith("**/")
                else [prefix]
            )
            if any(fnmatch.fnmatchcase(tail, pattern.removeprefix("**/")) for tail in tails):
                return True
    return False


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_code():
    patterns = [
        line.strip()
        for line in (REPO_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(pattern.startswith("!") for pattern in patterns)
    for left_out in (
        ".env",
        ".django-secret-key",
        ".git/config",
        ".venv/bin/python",
        ".embedded-broker/queue",
        "web_app/db.sqlite3",
        "web_app/tests/test_views.py",
        "rabbitmq_celery/adding/__pycache__/tasks.cpython-311.pyc",
    ):
        assert dockerignored(left_out, patterns), f"{left_out} would be sent to the build"
    for needed in (
        "requirements.txt",
        "docker/docker-entrypoint",
        "docker/with-secret-key",
        "web_app/manage.py",
        "web_app/bin/start-web",
        "web_app/gunicorn.conf.py",
        "rabbitmq_celery/manage.py",
        "rabbitmq_celery/adding/tasks.py",
    ):
        assert not dockerignored(needed, patterns), f"{needed} is needed in the image"
