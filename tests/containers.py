"""Run docker-compose.yml for real in end-to-end tests: an engine, a project, its healthchecks.

docker-compose talks to the Docker API that DOCKER_HOST names or, without one, to a
`podman system service` started here. Podman schedules healthchecks with systemd, which
these machines lack, so HealthcheckRunner runs them. Every command and wait is bounded.
"""

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.external_services import unavailable
from harness.processes import wait_until

REPO_DIR = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = REPO_DIR / "podman" / "containers.conf"
STAND_IN_BUILDER = REPO_DIR / "stand-in-images" / "build"
COMMAND_TIMEOUT = 180
HEALTHCHECK_INTERVAL = 3
# Variables the compose file reads; the tests set the ones they need, a user's never leak in.
COMPOSE_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "RABBITMQ_PASSWORD",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "RABBITMQ_ERLANG_COOKIE_FILE",
    "FLOWER_BASIC_AUTH",
    "FLOWER_HOST_PORT",
    "WEB_PORT",
    "APP_UID",
    "SUBMISSIONS_RATE",
    "SUBMISSIONS_MAX_QUEUED",
    "RECORD_FAULT_POINT",
    "STALE_PENDING_SECONDS",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
)

# How many test phases (setup, call, teardown) have failed so far in the run (tests/conftest.py).
FAILED_PHASES = pytest.StashKey[int]()


def engine_env() -> dict:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def engine_cli() -> str:
    """The engine's own command: docker for the engine DOCKER_HOST names, else podman."""
    return "docker" if os.environ.get("DOCKER_HOST") else "podman"


def missing_tools() -> list[str]:
    """The commands a compose run needs that this machine lacks."""
    return [tool for tool in (engine_cli(), "docker-compose") if shutil.which(tool) is None]


def require_compose_tools(what: str) -> None:
    """Skip (or, with CI=true, fail) when this machine lacks the engine or docker-compose to run `what`."""
    missing = missing_tools()
    if missing:
        unavailable("a container engine", f"{what} needs {', '.join(missing)}")


def engine(*args: str, timeout: float = COMMAND_TIMEOUT, check: bool = True) -> str:
    """`podman ARGS` (or `docker ARGS` with DOCKER_HOST): both take the same ps, inspect, ls."""
    return subprocess.run(
        [engine_cli(), *args], env=engine_env(), capture_output=True, text=True, timeout=timeout, check=check
    ).stdout


def answers_ping(socket_path: Path) -> bool:
    """Whether a Docker API answers /_ping on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(str(socket_path))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            return client.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


class PodmanService:
    """`podman system service` on a socket of its own: the Docker API for docker-compose."""

    def __init__(self):
        # A short folder: a unix socket's path has at most 107 characters.
        self.folder = Path(tempfile.mkdtemp(prefix="compose-podman-"))
        self.socket = self.folder / "podman.sock"
        self.popen = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> "PodmanService":
        log = open(self.folder / "service.log", "wb")
        self.popen = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.docker_host],
            env=engine_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: answers_ping(self.socket), 30, interval=0.2, what="podman's Docker API")
        return self

    def stop(self):
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


class HealthcheckRunner(threading.Thread):
    """Runs `podman healthcheck run` for every running container of a project, every few seconds."""

    def __init__(self, project: str):
        super().__init__(daemon=True)
        self.project = project
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(HEALTHCHECK_INTERVAL):
            try:
                containers = engine(
                    "ps",
                    "--quiet",
                    "--filter",
                    f"label=com.docker.compose.project={self.project}",
                    timeout=30,
                    check=False,
                ).split()
                for container in containers:
                    # Containers without a healthcheck, or stopping meanwhile, just fail here.
                    engine("healthcheck", "run", container, timeout=60, check=False)
            except subprocess.TimeoutExpired:
                continue

    def stop(self):
        self.stopped.set()
        self.join(timeout=90)


class ComposeProject:
    """docker-compose run on one copy of the repository under a project name of its own."""

    def __init__(self, directory: Path, name: str, docker_host: str):
        self.directory = directory
        self.name = name
        self.docker_host = docker_host
        # The passwords the compose file requires, the project's own.
        self.passwords = {"REDIS_PASSWORD": secrets.token_hex(16), "POSTGRES_PASSWORD": secrets.token_hex(16)}

    @property
    def results_file(self) -> Path:
        return self.directory / "results" / "results.txt"

    def results_lines(self) -> list[str]:
        if not self.results_file.exists():
            return []
        return self.results_file.read_text(encoding="utf-8").splitlines()

    def env(self, extra: dict | None = None) -> dict:
        env = {key: value for key, value in engine_env().items() if key not in COMPOSE_VARIABLES}
        env["DOCKER_HOST"] = self.docker_host
        env.update(self.passwords)
        # The tests post from one address far more often than a person would: the rate limit
        # is off unless a test turns it on.
        env["SUBMISSIONS_RATE"] = "off"
        env.update(extra or {})
        return env

    def attempt(self, *args: str, env: dict | None = None, timeout: float = COMMAND_TIMEOUT):
        """`docker-compose ARGS` in the project, whatever its exit status."""
        return subprocess.run(
            ["docker-compose", "--project-name", self.name, "--no-ansi", *args],
            cwd=self.directory,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, *args: str, env: dict | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
        """`docker-compose ARGS` in the project; its output, or an AssertionError with it."""
        result = self.attempt(*args, env=env, timeout=timeout)
        assert result.returncode == 0, f"docker-compose {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def exec(self, service: str, *command: str, timeout: float = 60, user: str | None = None) -> str:
        """The command's output in the service's container, as `user` or the container's own (root in the
        app images, which holds no capability there, so cannot read the app user's files)."""
        return self.run("exec", "-T", *(["--user", user] if user else []), service, *command, timeout=timeout)

    def psql(self, sql: str) -> list[list[str]]:
        """The rows of a query of the web app's PostgreSQL database, each a list of its columns."""
        output = self.exec(
            "postgres",
            "psql",
            "--username",
            "django",
            "--dbname",
            "web_app",
            "--tuples-only",
            "--no-align",
            "--field-separator",
            "\t",
            "--command",
            sql,
        )
        return [line.split("\t") for line in output.splitlines() if line]

    def build_and_start(self, services: dict[str, int], timeout: float = 300) -> tuple[float, float]:
        """Build the images, start the project, and wait until `services` are healthy; the seconds
        the build took, and the start after it."""
        started = time.monotonic()
        self.run("build", timeout=1800)
        built = time.monotonic()
        self.run("up", "--detach", timeout=600)
        self.wait_healthy(services, timeout=timeout)
        return built - started, time.monotonic() - built

    def containers(self, service: str, all_states: bool = False) -> list[str]:
        filters = [
            "--filter",
            f"label=com.docker.compose.project={self.name}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ]
        return engine("ps", "--quiet", *(["--all"] if all_states else []), *filters).split()

    def health(self, container: str) -> str:
        return engine("inspect", "--format", "{{.State.Health.Status}}", container, check=False).strip()

    def state(self, container: str) -> tuple[str, int]:
        """The container's status (running, exited...) and how often it was restarted."""
        status, restarts = engine("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", container).split()
        return status, int(restarts)

    def wait_healthy(self, services: dict[str, int], timeout: float = 300):
        """Wait until each service has exactly its number of running containers, all healthy."""

        def all_healthy():
            for service, count in services.items():
                containers = self.containers(service)
                if len(containers) != count or any(self.health(c) != "healthy" for c in containers):
                    return False
            return True

        try:
            wait_until(all_healthy, timeout, interval=2, what=f"{services} healthy")
        except TimeoutError as exc:
            logs = self.run("logs", "--tail", "40", *services, timeout=60)
            raise AssertionError(f"{exc}\n{logs}") from None

    def down(self):
        """Remove the project's containers, volumes, networks and built images, Flower's included."""
        self.run(
            "--profile",
            "monitoring",
            "down",
            "--volumes",
            "--remove-orphans",
            "--rmi",
            "local",
            "--timeout",
            "10",
            timeout=300,
        )

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of the project still on the engine."""
        label = f"label=com.docker.compose.project={self.name}"
        return {
            "containers": engine("ps", "--all", "--quiet", "--filter", label).split(),
            "volumes": engine("volume", "ls", "--quiet", "--filter", label).split(),
            "networks": engine("network", "ls", "--quiet", "--filter", label).split(),
        }


def copy_tracked_files(destination: Path):
    """The repository's files as a fresh clone has them (with the working tree's changes)."""
    listing = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO_DIR,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, listing):
        source = REPO_DIR / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build_stand_in_images():
    """The official images' local stand-ins (skipped when already built)."""
    subprocess.run([str(STAND_IN_BUILDER)], env=engine_env(), check=True, timeout=2400)


@contextlib.contextmanager
def container_engine(project_name: str) -> Iterator[str]:
    """The Docker API (a DOCKER_HOST value) to run the compose project `project_name` on.

    DOCKER_HOST's engine, as it is; without one, a `podman system service` started here,
    on the stand-in images (built first), with the project's healthchecks run here.
    """
    docker_host = os.environ.get("DOCKER_HOST")
    if docker_host:
        yield docker_host
        return
    build_stand_in_images()
    podman_service = PodmanService().start()
    healthchecks = HealthcheckRunner(project_name)
    healthchecks.start()
    try:
        yield podman_service.docker_host
    finally:
        healthchecks.stop()
        podman_service.stop()
