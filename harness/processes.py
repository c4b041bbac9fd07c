"""Start the project's real processes for end-to-end tests: the worker and gunicorn.

Every wait here is bounded; a process that does not come up in time fails the
test with its own log attached.
"""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests
from psycopg.rows import dict_row
from redis.backoff import NoBackoff
from redis.retry import Retry
from requests.adapters import HTTPAdapter

REPO_DIR = Path(__file__).resolve().parent.parent
WEB_DIR = REPO_DIR / "web_app"
WORKER_DIR = REPO_DIR / "rabbitmq_celery"
VENV_BIN = Path(sys.executable).parent

# The commands of the Procfile, as the Dockerfiles and `make run` start them.
WEB_COMMAND = [str(WEB_DIR / "bin" / "start-web")]
COLLECTOR_COMMAND = [str(WEB_DIR / "bin" / "start-collector")]
WORKER_COMMAND = [str(WORKER_DIR / "bin" / "start-worker")]

RABBITMQ_URL = os.environ.get("E2E_BROKER_URL", "amqp://django:django@127.0.0.1:5672/rabbit")
REDIS_URL = os.environ.get("E2E_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
# The rate limit's cache: another database of the same Redis.
CACHE_REDIS_URL = os.environ.get("E2E_CACHE_URL", "redis://127.0.0.1:6379/14")

START_TIMEOUT = 30
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Call condition() until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


@dataclass
class Stack:
    """One deployment of the project: its settings, and the processes started for it."""

    root: Path
    transport: str  # "rabbitmq" or "embedded"
    queue: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:12]}")
    port: int = field(default_factory=free_port)
    extra_env: dict = field(default_factory=dict)
    processes: list = field(default_factory=list)
    # A PostgreSQL database's URL; None for the SQLite file in root.
    database_url: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def results_file(self) -> Path:
        return Path(self.env["RESULTS_DIR"]) / "results.txt"

    def results_lines(self) -> list[str]:
        if not self.results_file.exists():
            return []
        return self.results_file.read_text(encoding="utf-8").splitlines()

    @property
    def env(self) -> dict:
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SECRET_KEY": "e2e-test-secret-key",
            "DJANGO_DATABASE_PATH": str(self.root / "web.sqlite3"),
            "DJANGO_STATIC_ROOT": str(self.root / "static"),
            "RESULTS_DIR": str(self.root / "results"),
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "PYTHONUNBUFFERED": "1",
            # Tests and the benchmark post far more often from one address than a person would:
            # the rate limit is off unless a test turns it on (test_public_site.py).
            "SUBMISSIONS_RATE": "off",
        }
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        else:
            env.pop("DATABASE_URL", None)
        if self.transport == "rabbitmq":
            env["CELERY_BROKER_URL"] = RABBITMQ_URL
            env["CELERY_RESULT_BACKEND"] = REDIS_URL
            # The machine's Redis, with keys of this stack's own.
            env["CACHE_URL"] = f"{CACHE_REDIS_URL}?key_prefix={self.queue}"
        else:
            for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
                env.pop(name, None)
            env["EMBEDDED_BROKER_DIR"] = str(self.root / "embedded-broker")
        env.update(self.extra_env)
        return env

    def _start(self, name: str, command: list[str], cwd: Path, env: dict | None) -> "Process":
        log_path = self.root / f"{name}-{len(self.processes)}.log"
        log = open(log_path, "wb")
        popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def start_worker(self, *extra_args: str, env: dict | None = None) -> "Process":
        """Start the worker the way the Procfile does (`celery -A rabbitmq_celery worker -l info`) and wait
        until it is ready."""
        # Workers of concurrent tests share the vhost, where two of the same node name
        # fight over one exclusive pidbox queue; a later `-n` in extra_args wins.
        node_name = f"{self.queue}-{len(self.processes)}@%h"
        worker = self._start(
            "worker",
            [*WORKER_COMMAND, "-n", node_name, *extra_args],
            WORKER_DIR,
            env,
        )
        return worker.wait_for_log(" ready.", what="worker ready")

    def start_web(self, env: dict | None = None) -> "Process":
        """Start gunicorn the way the Procfile does and wait until it answers."""
        return self.wait_until_answering(self._start("web", WEB_COMMAND, WEB_DIR, env))

    def start_collector(self, env: dict | None = None) -> "Process":
        """Start the collector the way the Procfile does and wait until it sweeps."""
        collector = self._start("collector", COLLECTOR_COMMAND, WEB_DIR, env)
        return collector.wait_for_log("Collector started", what="collector started")

    def wait_until_answering(self, web: "Process") -> "Process":
        """Wait until the web process answers its form page; fail if it exits first."""

        def answers():
            if web.exited():
                return True
            try:
                return requests.get(self.base_url + "/", timeout=5).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                # Still booting, or its first answer is slow on a busy machine.
                return False

        wait_until(answers, START_TIMEOUT, interval=0.1, what="gunicorn answering")
        web.check_running()
        return web

    def collect_all_results(self, timeout: float = 60) -> str:
        """Run collect_results until no submission is pending; its last report."""
        return wait_until(
            lambda: "still pending: 0" in (out := self.manage("collect_results").stdout) and out,
            timeout=timeout,
            interval=1,
            what="every submission recorded",
        )

    def stop_all(self):
        for process in reversed(self.processes):
            process.stop()

    def manage(self, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run web_app's `python manage.py ...` with this stack's settings (or `env`)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=WEB_DIR,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def execute(self, sql: str, parameters: tuple = ()) -> int:
        """Run one write statement on the web app's database (`%s` for each parameter); the rows it changed."""
        if self.database_url:
            with psycopg.connect(self.database_url, connect_timeout=10) as server:
                return server.execute(sql, parameters).rowcount
        with closing(sqlite3.connect(self.root / "web.sqlite3", timeout=20)) as database, database:
            return database.execute(sql.replace("%s", "?"), parameters).rowcount

    def submissions(self) -> list:
        """Every row of the web app's submissions table (first, second, status, result, task_id, error, resends)."""
        query = "SELECT first, second, status, result, task_id, error, resends FROM submissions_submission ORDER BY id"
        if self.database_url:
            with psycopg.connect(self.database_url, row_factory=dict_row, connect_timeout=10) as connection:
                return connection.execute(query).fetchall()
        database = self.root / "web.sqlite3"
        if not database.exists():
            return []
        with closing(sqlite3.connect(database, timeout=20)) as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(query).fetchall()


@dataclass
class PrivateRedis:
    """A redis-server of the test's own on a free port, keeping nothing on disk, to stop at will."""

    root: Path
    port: int = field(default_factory=free_port)
    process: "Process | None" = None
    # More arguments of redis-server, such as --replicaof HOST PORT.
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Process":
        log_path = self.root / f"redis-{self.port}.log"
        popen = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                *self.extra_args,
            ],
            stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.process = Process("redis", popen, log_path)
        return self.process.wait_for_log("Ready to accept connections", what="redis-server ready")

    def stop(self):
        if self.process is not None:
            self.process.stop()


SENTINEL_READY_TIMEOUT = 30


@dataclass
class RedisUnderSentinel:
    """A Redis primary, its replica and three sentinels of the test's own, on free ports: the result store
    replicated as a deployment runs it, whose primary can be SIGKILLed.

    Two sentinels must agree that the primary is down (after `down_after_ms` without an answer) before
    one of them promotes the replica. Each sentinel rewrites a configuration file of its own in `root`.
    """

    root: Path
    master_name: str = "results"
    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    primary: PrivateRedis = field(init=False)
    replica: PrivateRedis = field(init=False)
    sentinels: list["Process"] = field(default_factory=list)

    def __post_init__(self):
        self.primary = PrivateRedis(self.root / "primary")
        self.replica = PrivateRedis(
            self.root / "replica", extra_args=("--replicaof", "127.0.0.1", str(self.primary.port))
        )

    def url(self, db: int) -> str:
        """The sentinels as Celery's Sentinel backend (and CACHE_URL) take them: sentinel://...;sentinel://..."""
        return ";".join(f"sentinel://127.0.0.1:{port}/{db}" for port in self.sentinel_ports)

    def start(self) -> "RedisUnderSentinel":
        """Start the primary, the replica and the sentinels; return once the replica is in sync and every
        sentinel knows the replica and the two other sentinels, so that a failover can happen."""
        for node in (self.primary, self.replica):
            node.root.mkdir(parents=True, exist_ok=True)
            node.start()
        wait_until(
            lambda: self.info(self.replica.port).get("master_link_status") == "up",
            SENTINEL_READY_TIMEOUT,
            interval=0.1,
            what="the replica in sync with the primary",
        )
        for port in self.sentinel_ports:
            self.sentinels.append(self.start_sentinel(port))
        wait_until(
            self.failover_possible, SENTINEL_READY_TIMEOUT, interval=0.2, what="the sentinels knowing each other"
        )
        return self

    def start_sentinel(self, port: int) -> "Process":
        config = self.root / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.root}\n"
            f"sentinel monitor {self.master_name} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master_name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.master_name} 1\n"
        )
        log_path = self.root / f"sentinel-{port}.log"
        popen = subprocess.Popen(
            ["redis-server", str(config), "--sentinel"],
            stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Process("sentinel", popen, log_path).wait_for_log("+monitor master", what="sentinel monitoring")

    def client(self, port: int, db: int = 0) -> redis.Redis:
        return redis.Redis(
            "127.0.0.1", port, db=db, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def info(self, port: int) -> dict:
        """INFO replication of a Redis node; empty when it does not answer."""
        try:
            with self.client(port) as node:
                return node.info("replication")
        except (redis.RedisError, OSError):  # a node that is down says nothing
            return {}

    def failover_possible(self) -> bool:
        """Every sentinel knows the replica and the two others: enough to agree and promote it."""
        for port in self.sentinel_ports:
            try:
                with self.client(port) as sentinel:
                    state = sentinel.sentinel_master(self.master_name)
            except (redis.RedisError, OSError):  # not listening yet
                return False
            if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                return False
        return True

    def primary_port_known(self) -> int | None:
        """The primary's port as the first sentinel that answers names it; None when none does."""
        for port in self.sentinel_ports:
            try:
                with self.client(port) as sentinel:
                    address = sentinel.sentinel_get_master_addr_by_name(self.master_name)
            except (redis.RedisError, OSError):  # this sentinel is down: ask the next
                continue
            if address:
                return int(address[1])
        return None

    def cut_replication(self) -> None:
        """Cut the replica off the primary, and keep it off (its reconnects fail on a password the primary
        does not have): what the primary stores from now on is on the primary alone."""
        with self.client(self.replica.port) as replica:
            replica.config_set("masterauth", "not-the-primary-s")
        with self.client(self.primary.port) as primary:
            primary.client_kill_filter(_type="replica")
        wait_until(
            lambda: self.info(self.replica.port).get("master_link_status") == "down",
            SENTINEL_READY_TIMEOUT,
            interval=0.05,
            what="the replica cut off",
        )

    def kill_primary(self) -> None:
        """SIGKILL the primary: no goodbye to its clients, its replica or the sentinels."""
        assert self.primary.process is not None
        self.primary.process.signal(signal.SIGKILL)
        self.primary.process.popen.wait(timeout=5)
        # Undo cut_replication: the replica, once promoted, or replicating from another, needs no password.
        with self.client(self.replica.port) as replica:
            replica.config_set("masterauth", "")

    def wait_for_promotion(self, timeout: float) -> float:
        """Wait until the sentinels name the replica the primary and it acts as one; seconds waited."""
        started = time.monotonic()
        wait_until(
            lambda: (
                self.primary_port_known() == self.replica.port and self.info(self.replica.port).get("role") == "master"
            ),
            timeout,
            interval=0.05,
            what="the replica promoted",
        )
        return time.monotonic() - started

    def stop(self):
        for process in (*self.sentinels, self.replica.process, self.primary.process):
            if process is not None:
                process.stop()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def wait_for_log(self, text: str, what: str) -> "Process":
        """Wait until the process logs `text`; fail with its log if it exits first or takes too long."""
        wait_until(lambda: self.exited() or text in self.log(), START_TIMEOUT, what=what)
        self.check_running()
        return self

    def check_running(self):
        if self.exited():
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-4000:]}")

    def pool_processes(self) -> list[int]:
        """Process ids of the children of this process (a Celery worker's pool)."""
        import psutil

        return [child.pid for child in psutil.Process(self.popen.pid).children()]

    def signal(self, signum: int):
        """Send a signal to the process and everything it started."""
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 15):
        """Warm shutdown with SIGTERM; SIGKILL if it does not end in time."""
        if self.exited():
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=5)


class SourceAddressAdapter(HTTPAdapter):
    """Connections from one local address (127.0.0.2, say): another client, to the web server."""

    def __init__(self, source_address: str):
        self.source_address = (source_address, 0)
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self.source_address
        super().init_poolmanager(*args, **kwargs)


class HttpClient:
    """An HTTP client (a requests session) that uses the form as a browser would: GET it for the
    CSRF token, POST it, follow the redirect. It keeps its cookies, so it is one visitor;
    `source_address` makes it connect from another loopback address, as another client."""

    def __init__(self, base_url: str, source_address: str | None = None):
        self.base_url = base_url
        self.session = requests.Session()
        if source_address:
            self.session.mount("http://", SourceAddressAdapter(source_address))

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.base_url + path, **kwargs)

    def csrf_token(self) -> str:
        page = self.get("/")
        page.raise_for_status()
        token = CSRF_TOKEN.search(page.text)
        assert token is not None, "the form page carries a CSRF token"
        return token.group(1)

    def submit(self, first: str, second: str, *, fields=("first", "second"), **kwargs) -> requests.Response:
        """GET the form for its CSRF token, POST it (with `fields` as the two inputs' names),
        follow the redirect."""
        data = {"csrfmiddlewaretoken": self.csrf_token(), fields[0]: first, fields[1]: second}
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.base_url + "/", data=data, **kwargs)

    def path_of(self, page: requests.Response) -> str:
        return page.url[len(self.base_url) :]

    def revisit(self, page: requests.Response) -> requests.Response:
        """GET `page` again as the visitor it was answered to: a submission's page answers only the
        session that made it, so this client takes on the session cookie that visitor was given."""
        for response in (*page.history, page):
            self.session.cookies.update(response.cookies)
        return self.get(self.path_of(page))

    def wait_until_recorded(self, page: requests.Response, timeout: float = 30) -> str:
        """Reload a submission's page (as its visitor) until it is no longer pending; return its text."""
        return wait_until(
            lambda: "Pending" not in (text := self.revisit(page).text) and text,
            timeout,
            interval=0.2,
            what=f"{page.url} no longer pending",
        )


def submit_concurrently(base_url: str, pairs: list[tuple[str, str]], clients: int = 8) -> list:
    """Submit every (first, second) pair through the form, `clients` browsers at once.

    Each item of the answer is the final response, or the exception its request raised.
    """

    def submit(pair):
        try:
            return HttpClient(base_url).submit(*pair)
        except requests.RequestException as exc:
            return exc

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(submit, pairs))


def post_duration(page: requests.Response) -> float:
    """Seconds from sending the POST to the headers of the page it redirected to."""
    return sum(response.elapsed.total_seconds() for response in (*page.history, page))
