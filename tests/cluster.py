"""The cluster deployment (docker-compose.cluster.yml) under load, and the faults done to it.

ClusterProject runs both compose files and reaches inside the containers (rabbitmqctl,
psql, the sentinels, the processes' host pids, the network, each host's results volume).
LoadClients are browser-like clients that keep submitting the form through the load
balancer; account() then checks every one of their submissions against the database and
the results files of every host.
"""

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness.processes import CSRF_TOKEN, wait_until
from tests.containers import ComposeProject, engine, engine_cli, engine_env

COMPOSE_FILES = ("--file", "docker-compose.yml", "--file", "docker-compose.cluster.yml")
RABBITMQ_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
REDIS_NODES = ("redis", "redis-2")
SENTINELS = ("redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3")
REDIS_MASTER_NAME = "results"
WEB_SERVERS = ("web-server-1", "web-server-2")
# Each host that records results; its results file is on the volume HOST-results.
RECORDING_HOSTS = (*WEB_SERVERS, "collector")
STACK = {
    **dict.fromkeys(RABBITMQ_NODES, 1),
    "rabbitmq-lb": 1,
    **dict.fromkeys(REDIS_NODES, 1),
    **dict.fromkeys(SENTINELS, 1),
    "postgres": 1,
    **dict.fromkeys(WEB_SERVERS, 1),
    "worker": 3,
    "load-balancer": 1,
}
TASK_QUEUE = "celery"
REQUEST_TIMEOUT = 30
# What the web app's pages say when it refuses a submission: nothing was sent.
APP_REFUSAL = re.compile(r'role="alert">[^<]*nothing was sent')
# HAProxy's own error pages (no server up, a server that died while answering).
BALANCER_ERROR = re.compile(r"<h1>(502 Bad Gateway|503 Service Unavailable|504 Gateway Time-out)</h1>")


class ClusterProject(ComposeProject):
    """docker-compose on docker-compose.yml with docker-compose.cluster.yml layered on it, with an Erlang
    cookie of its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cookie = self.directory / "erlang-cookie"
        cookie.write_text(secrets.token_urlsafe(32) + "\n")
        # Read by the nodes' rabbitmq user through the compose secret, a bind mount of this file.
        cookie.chmod(0o644)
        self.passwords["RABBITMQ_ERLANG_COOKIE_FILE"] = str(cookie)

    def run(self, *args: str, **kwargs) -> str:
        return super().run(*COMPOSE_FILES, *args, **kwargs)

    def container(self, service: str) -> str:
        """The name of the service's first running container."""
        containers = self.containers(service)
        assert containers, f"no running container of {service}"
        return engine("inspect", "--format", "{{.Name}}", containers[0]).strip()

    def host_pid(self, container: str) -> int:
        return int(engine("inspect", "--format", "{{.State.Pid}}", container).strip())

    def sigkill(self, container: str):
        """SIGKILL the container's first process from the host, as a crash would: the whole container dies."""
        os.kill(self.host_pid(container), signal.SIGKILL)

    @property
    def network(self) -> str:
        return f"{self.name}_default"

    def address(self, container: str) -> str:
        """The container's address on the deployment's network."""
        template = f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}'
        return engine("inspect", "--format", template, container).strip()

    def rabbitmq_diagnostics(self) -> str:
        """What each RabbitMQ node says of the cluster, and the end of its log, for a failed wait."""

        def output(*args: str) -> str:
            try:
                result = self.attempt(*COMPOSE_FILES, *args, timeout=60)
            except subprocess.TimeoutExpired:
                return "(no answer within 60 s)\n"
            return result.stdout + result.stderr

        return "\n".join(
            f"--- {node}: rabbitmqctl cluster_status\n"
            + output("exec", "-T", node, "rabbitmqctl", "cluster_status")
            + f"--- {node}: the end of its log\n"
            + output("logs", "--no-color", "--tail", "60", node)
            for node in RABBITMQ_NODES
        )

    def web_server(self) -> str:
        """The container of the first web server running (a fault may have one down)."""
        running = [container for service in WEB_SERVERS for container in self.containers(service)]
        assert running, "no web server running"
        return running[0]

    def results_lines(self) -> list[str]:
        """The lines of every host's results file, read from each host's volume."""
        lines = []
        for host in RECORDING_HOSTS:
            volume = f"{self.name}_{host}-results"
            mountpoint = engine("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip()
            results_file = Path(mountpoint) / "results.txt"
            if results_file.exists():
                lines += results_file.read_text(encoding="utf-8").splitlines()
        return lines

    def redis_primary(self) -> str | None:
        """The Redis node the first sentinel that answers names as the primary; None when none answers."""
        for sentinel in SENTINELS:
            for container in self.containers(sentinel):
                answer = engine(
                    "exec",
                    container,
                    "redis-cli",
                    "-p",
                    "26379",
                    "--raw",
                    "sentinel",
                    "get-master-addr-by-name",
                    REDIS_MASTER_NAME,
                    timeout=30,
                    check=False,
                ).split()
                if answer:
                    return answer[0]
        return None

    def redis_role(self, node: str) -> str:
        """`master` or `slave`, as the node itself says; empty when it does not answer."""
        for container in self.containers(node):
            info = engine("exec", container, "redis-cli", "info", "replication", timeout=30, check=False)
            if match := re.search(r"^role:(\w+)", info, re.MULTILINE):
                return match.group(1)
        return ""

    def started(self, services: tuple[str, ...]) -> dict[str, str]:
        """Each running container of the services, with the moment it (re)started."""
        return {
            container: engine("inspect", "--format", "{{.State.StartedAt}}", container).strip()
            for service in services
            for container in self.containers(service)
        }

    def rabbitmqctl(self, *args: str, timeout: float = 30) -> str:
        """rabbitmqctl on the first node that answers (a paused or restarting one may not)."""
        errors = []
        for node in RABBITMQ_NODES:
            for container in self.containers(node):
                try:
                    result = subprocess.run(
                        [engine_cli(), "exec", container, "rabbitmqctl", "--quiet", *args],
                        env=engine_env(),
                        capture_output=True,
                        text=True,
                        timeout=timeout,
                    )
                except subprocess.TimeoutExpired:
                    errors.append(f"{node}: no answer within {timeout} s")
                    continue
                if result.returncode == 0 and "{:badrpc" not in result.stdout:
                    return result.stdout
                errors.append(f"{node}: {(result.stderr or result.stdout).strip()[-300:]}")
        raise AssertionError(f"rabbitmqctl {' '.join(args)} answered on no node: {errors}")

    def task_queue(self, timeout: float = 120) -> dict:
        """The task queue's type, leader, members, ready and unacknowledged messages.

        Asked of the management API for this one queue, from a web server, of the first
        node that answers: RabbitMQ 3.10's `list_queues` fails as a whole while any quorum
        queue (Celery's delayed-delivery ones too) has a member still starting.
        """
        script = (
            "import base64, sys, urllib.request\n"
            "auth = 'Basic ' + base64.b64encode(b'django:django').decode()\n"
            f"for node in {RABBITMQ_NODES!r}:\n"
            f"    url = f'http://{{node}}:15672/api/queues/rabbit/{TASK_QUEUE}'\n"
            "    try:\n"
            "        print(urllib.request.urlopen(urllib.request.Request(url, headers={'Authorization': auth}), timeout=10).read().decode())\n"
            "        break\n"
            "    except Exception as exc:\n"
            "        print(node, exc, file=sys.stderr)\n"
        )

        def ask():
            try:
                answer = json.loads(engine("exec", self.web_server(), "python", "-c", script, timeout=60) or "{}")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError, ValueError):
                return None
            if not answer.get("leader"):
                return None
            if "messages_ready" not in answer:
                # The leader's node reports no statistics: none yet after a start, or none for good once
                # its management agent has crashed (RabbitMQ 4.1's rabbit_mgmt_external_stats can, on a
                # node that reconnected): rabbitmqctl counts the messages instead.
                counts = self.task_queue_counts()
                if counts is None:
                    return None
                answer["messages_ready"], answer["messages_unacknowledged"] = counts
            return answer

        queue = wait_until(ask, timeout, interval=2, what=f"the queue {TASK_QUEUE} from the management API")
        return {
            "type": queue["type"],
            "leader": queue["leader"],
            "members": sorted(queue["members"]),
            "ready": queue["messages_ready"],
            "unacked": queue["messages_unacknowledged"],
        }

    def task_queue_counts(self) -> tuple[int, int] | None:
        """The task queue's ready and unacknowledged messages as rabbitmqctl lists them; None when no node can."""
        try:
            listing = self.rabbitmqctl(
                "list_queues",
                "-p",
                "rabbit",
                "name",
                "messages_ready",
                "messages_unacknowledged",
                "--formatter",
                "json",
            )
        except AssertionError:
            return None
        with contextlib.suppress(ValueError):
            for queue in json.loads(listing):
                if queue.get("name") == TASK_QUEUE:
                    return int(queue["messages_ready"]), int(queue["messages_unacknowledged"])
        return None

    def running_nodes(self) -> list[str]:
        """The nodes running in the cluster, as the first node that answers sees it; none when none answers."""
        try:
            status = self.rabbitmqctl("cluster_status", "--formatter", "json")
        except AssertionError:
            return []
        return sorted(json.loads(status)["running_nodes"])

    def container_of_node(self, node: str) -> str:
        """The container of a RabbitMQ node name (rabbit@rabbitmq-2 is the service rabbitmq-2)."""
        return self.container(node.split("@", 1)[1])

    def held_tasks(self, worker: str) -> int:
        """Tasks the worker in this container has taken and not finished (reserved or active), as Celery's inspect tells."""
        held = 0
        for method in ("reserved", "active"):
            # As app, who alone reads the key: the container's root has no capability to.
            answer = engine(
                "exec",
                "--user",
                "app",
                worker,
                "sh",
                "-c",
                f"with-secret-key celery -A rabbitmq_celery inspect {method} --json --timeout 5 "
                "--destination celery@$(hostname)",
                timeout=60,
                check=False,
            )
            with contextlib.suppress(IndexError, ValueError, AttributeError):
                held += sum(len(tasks) for tasks in json.loads(answer.strip().splitlines()[-1]).values())
        return held

    def processes(self, container: str) -> list[dict]:
        """The container's processes: host pid, pid and parent pid as the container sees them, command line."""
        if engine_cli() == "podman":
            listing = engine("top", container, "hpid", "pid", "ppid", "args").splitlines()[1:]
        else:
            # Docker's top runs ps on the host: host pids only, which serve as both.
            listing = [
                f"{pid} {pid} {ppid} {args}"
                for pid, ppid, args in (
                    line.split(None, 2) for line in engine("top", container, "-o", "pid,ppid,args").splitlines()[1:]
                )
            ]
        processes = []
        for line in listing:
            hpid, pid, ppid, args = line.split(None, 3)
            processes.append({"hpid": int(hpid), "pid": int(pid), "ppid": int(ppid), "args": args})
        return processes

    def submissions(self, prefix: str) -> list[dict]:
        """The database's rows whose first string starts with prefix."""
        assert re.fullmatch(r"[A-Za-z0-9_-]+", prefix), "a plain tag, safe to put in the query"
        rows = self.psql(
            f"SELECT id, first, second, status FROM submissions_submission WHERE first LIKE '{prefix}%'"  # noqa: S608
        )
        return [dict(zip(("id", "first", "second", "status"), row, strict=False)) for row in rows]


@dataclass
class Attempt:
    """One submission of the form by a load client, and what the client saw."""

    first: str
    second: str
    started: float
    finished: float = 0.0
    # answered: the page shows the result; pending: accepted, result to come; refused: the
    # app's clear 503, nothing sent; cut: the load balancer's error page or no answer at
    # all, the request may or may not have reached a web server; unclear: anything else.
    outcome: str = ""
    detail: str = ""

    @property
    def line(self) -> str:
        return f"{self.first} es {self.second}"


def classify(attempt: Attempt, page: requests.Response) -> str:
    if page.status_code == 200 and "/submissions/" in page.url:
        return "answered" if attempt.line in page.text else "pending"
    if page.status_code == 503 and APP_REFUSAL.search(page.text):
        return "refused"
    if page.status_code in (502, 503, 504) and BALANCER_ERROR.search(page.text):
        return "cut"
    return "unclear"


class LoadClient(threading.Thread):
    """A browser-like client: GET the form for its CSRF token, POST it, follow the redirect; again."""

    def __init__(self, base_url: str, prefix: str, pause: float, stopped: threading.Event):
        super().__init__(daemon=True)
        self.base_url = base_url
        self.prefix = prefix
        self.pause = pause
        self.stopped = stopped
        self.attempts: list[Attempt] = []

    def run(self):
        number = 0
        while not self.stopped.is_set():
            session = requests.Session()
            try:
                form = session.get(self.base_url + "/", timeout=REQUEST_TIMEOUT)
                token = CSRF_TOKEN.search(form.text)
            except requests.RequestException:
                token = None
            if token is None:
                # No form, so nothing sent: the next try comes after the pause.
                self.stopped.wait(self.pause)
                continue
            attempt = Attempt(f"{self.prefix}n{number}", "z", started=time.monotonic())
            number += 1
            self.attempts.append(attempt)
            try:
                page = session.post(
                    self.base_url + "/",
                    data={"csrfmiddlewaretoken": token.group(1), "first": attempt.first, "second": attempt.second},
                    timeout=REQUEST_TIMEOUT,
                )
                attempt.outcome = classify(attempt, page)
                attempt.detail = f"{page.status_code} {page.url}"
            except requests.RequestException as exc:
                attempt.outcome, attempt.detail = "cut", f"{type(exc).__name__}: {exc}"[:300]
            attempt.finished = time.monotonic()
            self.stopped.wait(self.pause)


class LoadClients:
    """Several load clients at once, each submitting names of its own under one prefix."""

    def __init__(self, base_url: str, prefix: str, count: int = 3, pause: float = 0.5):
        self.stopped = threading.Event()
        self.clients = [LoadClient(base_url, f"{prefix}c{index}", pause, self.stopped) for index in range(count)]

    def __enter__(self) -> "LoadClients":
        for client in self.clients:
            client.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self.stopped.set()
        for client in self.clients:
            client.join(timeout=REQUEST_TIMEOUT * 2 + 5)

    @property
    def attempts(self) -> list[Attempt]:
        return [attempt for client in self.clients for attempt in client.attempts]

    def answered_since(self, moment: float) -> bool:
        return any(a.outcome == "answered" and a.started >= moment for a in self.attempts)


@dataclass
class FaultReport:
    """What became of one fault's submissions, after every result had time to arrive."""

    fault: str
    sent: int = 0
    answered: int = 0
    recorded_later: int = 0
    refused: int = 0
    cut_recorded: int = 0
    cut_refused: int = 0
    lost: int = 0
    written_twice: int = 0
    half_written: int = 0
    unclear: int = 0
    recovery_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list, repr=False)

    COLUMNS = (
        ("fault", 30),
        ("sent", 5),
        ("answered", 8),
        ("later", 5),
        ("refused", 7),
        ("cut: recorded/refused", 21),
        ("lost", 4),
        ("twice", 5),
        ("recovered in", 12),
    )

    @property
    def failures(self) -> int:
        return self.lost + self.written_twice + self.half_written + self.unclear

    def row(self) -> str:
        values = (
            self.fault,
            self.sent,
            self.answered,
            self.recorded_later,
            self.refused,
            f"{self.cut_recorded}/{self.cut_refused}",
            self.lost,
            self.written_twice,
            f"{self.recovery_seconds:.1f} s",
        )
        return (
            "| "
            + " | ".join(str(value).ljust(width) for value, (_, width) in zip(values, self.COLUMNS, strict=False))
            + " |"
        )

    @classmethod
    def header(cls) -> str:
        names = "| " + " | ".join(name.ljust(width) for name, width in cls.COLUMNS) + " |"
        rule = "|" + "|".join("-" * (width + 2) for _, width in cls.COLUMNS) + "|"
        return f"{names}\n{rule}"


# One sweep of the collector, in the collector's container, as its own user and with the key.
COLLECT_NOW = ("exec", "-T", "--user", "app", "collector", "with-secret-key", "python", "manage.py", "collect_results")


def settle(project: ClusterProject, prefix: str, timeout: float = 180):
    """Have the collector record each result that has come, until no submission is pending.

    The collector service sweeps every COLLECT_INTERVAL by itself; a sweep run now, beside
    it, only makes the wait shorter (two recorders of one result still write it once).
    """

    def none_pending():
        if not any(row["status"] == "pending" for row in project.submissions(prefix)):
            return True
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            project.run(*COLLECT_NOW, timeout=60)
        return False

    # What is still pending after that is counted as lost by account().
    with contextlib.suppress(TimeoutError):
        wait_until(none_pending, timeout, interval=2, what=f"no submission {prefix}* pending")


def account(project: ClusterProject, fault: str, prefix: str, attempts: list[Attempt], fault_at: float) -> FaultReport:
    """Check every attempt against the database and the results files of every host."""
    report = FaultReport(fault, sent=len(attempts), attempts=attempts)
    rows: Counter[str] = Counter()
    status: dict[str, str] = {}
    for row in project.submissions(prefix):
        rows[row["first"]] += 1
        status[row["first"]] = row["status"]
    lines = Counter(line for line in project.results_lines() if line.startswith(prefix))
    for attempt in attempts:
        in_database, written = rows[attempt.first], lines[attempt.line]
        done = status.get(attempt.first) == "done"
        if in_database > 1 or written > 1:
            report.written_twice += 1
            report.notes.append(f"{attempt.first}: {in_database} rows, {written} lines")
        if attempt.outcome in ("answered", "pending", "cut") and in_database and not (done and written):
            report.lost += 1
            report.notes.append(f"{attempt.first} ({attempt.outcome}): {status.get(attempt.first)}, {written} lines")
        elif written and not in_database:
            report.half_written += 1
            report.notes.append(f"{attempt.first}: a results line without its row")
        elif attempt.outcome in ("answered", "pending") and not in_database:
            report.lost += 1
            report.notes.append(f"{attempt.first} ({attempt.outcome}): no row")
        elif attempt.outcome == "refused" and in_database:
            report.half_written += 1
            report.notes.append(f"{attempt.first}: refused, yet a row")
        if attempt.outcome != "answered":
            report.notes.append(
                f"{attempt.first}: {attempt.outcome} after {attempt.finished - attempt.started:.1f} s "
                f"({attempt.detail}); {status.get(attempt.first, 'no row')}"
            )
        if attempt.outcome == "answered":
            report.answered += 1
        elif attempt.outcome == "pending":
            report.recorded_later += 1
        elif attempt.outcome == "refused":
            report.refused += 1
        elif attempt.outcome == "cut":
            if in_database:
                report.cut_recorded += 1
            else:
                report.cut_refused += 1
        else:
            report.unclear += 1
            report.notes.append(f"{attempt.first}: unclear answer {attempt.detail}")
    report.recovery_seconds = recovery_seconds(attempts, fault_at)
    return report


def recovery_seconds(attempts: list[Attempt], fault_at: float) -> float:
    """From the fault to the answer of the first submission, sent after the last one that failed, that succeeded.

    A submission fails when it is not answered with its result; none failing gives the
    time to the first answer after the fault.
    """
    after = sorted((a for a in attempts if a.finished >= fault_at), key=lambda a: a.started)
    failed = [a for a in after if a.outcome != "answered"]
    since = max((a.started for a in failed), default=fault_at)
    recovered = [a.finished for a in after if a.outcome == "answered" and a.started > since]
    return (min(recovered) - fault_at) if recovered else float("inf")
