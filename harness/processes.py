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
import requests
from psycopg.rows import dict_row
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
