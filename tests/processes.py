"""Start the project's real processes for end-to-end tests: the worker and gunicorn.

Every wait here is bounded; a process that does not come up in time fails the
test with its own log attached.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_DIR = Path(__file__).resolve().parent.parent
WEB_DIR = REPO_DIR / "web_app"
WORKER_DIR = REPO_DIR / "rabbitmq_celery"
VENV_BIN = Path(sys.executable).parent

# The commands of the Procfile, as the Dockerfiles and `make run` start them.
WEB_COMMAND = [str(WEB_DIR / "bin" / "start-web")]
WORKER_COMMAND = ["celery", "-A", "rabbitmq_celery", "worker", "-l", "info"]

RABBITMQ_URL = os.environ.get("E2E_BROKER_URL", "amqp://django:django@127.0.0.1:5672/rabbit")
REDIS_URL = os.environ.get("E2E_RESULT_BACKEND", "redis://127.0.0.1:6379/15")

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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def results_file(self) -> Path:
        return self.root / "results" / "results.txt"

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
        }
        if self.transport == "rabbitmq":
            env["CELERY_BROKER_URL"] = RABBITMQ_URL
            env["CELERY_RESULT_BACKEND"] = REDIS_URL
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
        """Start `celery -A rabbitmq_celery worker -l info` and wait until it is ready."""
        worker = self._start(
            "worker",
            [str(VENV_BIN / WORKER_COMMAND[0]), *WORKER_COMMAND[1:], *extra_args],
            WORKER_DIR,
            env,
        )
        wait_until(
            lambda: worker.exited() or " ready." in worker.log(),
            START_TIMEOUT,
            what="worker ready",
        )
        worker.check_running()
        return worker

    def start_web(self, env: dict | None = None) -> "Process":
        """Start gunicorn the way the Procfile does and wait until it answers."""
        web = self._start("web", WEB_COMMAND, WEB_DIR, env)

        def answers():
            if web.exited():
                return True
            try:
                return requests.get(self.base_url + "/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, START_TIMEOUT, interval=0.1, what="gunicorn answering")
        web.check_running()
        return web

    def stop_all(self):
        for process in reversed(self.processes):
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

    def check_running(self):
        if self.exited():
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-4000:]}")

    def signal(self, signum: int):
        """Send a signal to the process and everything it started."""
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

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


class Browser:
    """A requests session that uses the form the way a browser does."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.base_url + path, **kwargs)

    def csrf_token(self) -> str:
        page = self.get("/")
        page.raise_for_status()
        return CSRF_TOKEN.search(page.text).group(1)

    def submit(self, first: str, second: str, **kwargs) -> requests.Response:
        """GET the form for its CSRF token, POST it, follow the redirect."""
        data = {"csrfmiddlewaretoken": self.csrf_token(), "first": first, "second": second}
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.base_url + "/", data=data, **kwargs)
