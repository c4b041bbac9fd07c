"""`make bench`: the project, the seed, a reduced Django reference and a bare Celery client
(floor), in one run.

They run side by side against the same RabbitMQ and Redis, each on a queue of
its own, and take turns at every load level, so that a noisy neighbour slows
them alike; the report compares them as ratios. Two tasks: the real worker's
(which costs nothing), then one that takes 0.5 s (bench/slow_worker.py).
"""

import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import requests
from kombu import Connection

from bench import metrics, report
from bench.form_probe import time_form_page
from bench.load import REQUEST_TIMEOUT, FormProbe, Load, Sample, browser_medians, shows_result
from bench.settings import BACKEND_URL, BROKER_URL, OUT_DIR, RESULTS_DIR
from bench.stacks import SEED_FIELDS, ReducedStack, SeedStack, redirected_to_the_form
from harness.external_services import amqp_channel, delete_queue
from harness.processes import REPO_DIR, VENV_BIN, HttpClient, Process, Stack, wait_until

# BENCH_DATABASE_URL puts the project's web app on that database (the compose deployment's
# PostgreSQL, say) instead of SQLite; the seed keeps its own SQLite file.
DATABASE_ENV = {"DATABASE_URL": os.environ["BENCH_DATABASE_URL"]} if os.environ.get("BENCH_DATABASE_URL") else {}
# The project runs with its rate limit off (SUBMISSIONS_RATE=off), as in the tests: the browsers
# all post from one address. BENCH_SUBMISSIONS_RATE gives it a rate instead (a high one, say
# 1000000/m, counts every POST and limits none: what counting costs).
RATE_ENV = {"SUBMISSIONS_RATE": os.environ.get("BENCH_SUBMISSIONS_RATE", "off")}

LEVELS = tuple(int(n) for n in os.environ.get("BENCH_LEVELS", "1,4,16,64").split(","))
SLOW_LEVELS = tuple(int(n) for n in os.environ.get("BENCH_SLOW_LEVELS", "16,64,256").split(",") if n)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "1.5"))
DURATION = float(os.environ.get("BENCH_DURATION", "6"))
# The most a level waits for all its browsers to have had their first page before its warm-up.
LANDING_TIMEOUT = 60
SYSTEMS = tuple(os.environ.get("BENCH_SYSTEMS", "project,seed,reduced,floor").split(","))
# The systems the slow task is measured on.
SLOW_SYSTEMS = ("project", "seed")
# Wider than the largest level: the slow worker is never the bottleneck.
SLOW_WORKER_THREADS = max((*SLOW_LEVELS, 64)) + 64

# The worker-stopped scenario: this many submissions waiting while the form page is timed.
WAITING_SUBMISSIONS = 32
PROBE_SECONDS = 5
PROBE_TIMEOUT = 2


class System:
    """One thing measured: a web app (or the floor client) and its worker."""

    def __init__(self, name: str, stack: Stack, has_web: bool, fields=("first", "second"), answered=shows_result):
        self.name = name
        self.stack = stack
        self.has_web = has_web
        self.fields = fields
        self.answered = answered
        self.web: Process | None = None
        self.worker: Process | None = None
        self.load_samples: list[Sample] = []

    def start(self):
        self.start_worker()
        if self.has_web:
            self.web = self.stack.start_web()

    def start_worker(self):
        # Three workers share the vhost: each needs a node name of its own for its pidbox queue.
        self.worker = self.stack.start_worker("--hostname", f"{self.stack.queue}@%h")

    @property
    def web_pid(self) -> int:
        assert self.web is not None, f"{self.name}'s web process started"
        return self.web.popen.pid

    @property
    def worker_pid(self) -> int:
        assert self.worker is not None, f"{self.name}'s worker started"
        return self.worker.popen.pid

    def queue_depth(self) -> int:
        with Connection(BROKER_URL, connect_timeout=5) as connection:
            return amqp_channel(connection).queue_declare(self.stack.queue, passive=True).message_count

    def run_level(self, clients: int, window: "Window", probe: bool = False) -> dict:
        if self.has_web:
            return self._run_browsers(clients, window, probe)
        return self._run_floor(clients, window)

    def _run_browsers(self, clients: int, window: "Window", probe: bool) -> dict:
        window.count_redis_from()
        load = Load(self.stack.base_url, clients, self.fields, self.answered).start()
        form_probe = None
        try:
            landed = load.wait_until_landed(LANDING_TIMEOUT)
            time.sleep(WARMUP)
            window.open({"web": self.web_pid, "worker": self.worker_pid})
            form_probe = FormProbe(self.stack.base_url, DURATION).start() if probe else None
            time.sleep(DURATION)
            window.close()
        finally:
            if form_probe:
                form_probe.stop()
            load.stop()
        window.count_redis_until(len(load.samples))
        self.load_samples.extend(load.samples)
        inside = load.between(window.started, window.ended)
        outcome = {
            "landed": landed,
            "count": len(inside),
            "failed": sum(1 for s in inside if not s.ok),
            "errors": len(load.errors),
            "error_examples": load.errors[:3],
            "latencies": [s.seconds for s in inside],
            "post_latencies": [s.post_seconds for s in inside],
            "browser_medians": browser_medians(inside),
        }
        if form_probe:
            outcome["form_latencies"] = form_probe.latencies
            outcome["form_failures"] = len(form_probe.failures)
        return outcome

    def _run_floor(self, clients: int, window: "Window") -> dict:
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", str(clients), str(WARMUP), str(DURATION)],
            cwd=REPO_DIR,
            env=self.stack.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        window.count_redis_from()
        watchdog = threading.Timer(WARMUP + DURATION + REQUEST_TIMEOUT, floor.kill)
        watchdog.start()
        try:
            for line in floor.stdout or ():
                if line.strip() == "measuring":
                    window.open({"web": floor.pid, "worker": self.worker_pid})
                elif line.strip() == "done":
                    window.close()
                elif line.startswith("{"):
                    outcome = json.loads(line)
            floor.wait(5)
        finally:
            watchdog.cancel()
        window.count_redis_until(outcome["submissions"])
        return {
            "count": len(outcome["latencies"]),
            "failed": outcome["wrong"],
            "errors": outcome["error_count"],
            "error_examples": outcome["errors"],
            "latencies": outcome["latencies"],
            "post_latencies": outcome["latencies"],
        }


class Window:
    """The measured part of one turn: CPU of every process involved, Redis commands, peak memory.

    CPU and memory are measured in the steady middle of the turn. Redis commands
    are counted over the whole turn, from before its first submission to after
    its last, so that no submission is half inside: a count of whole submissions.
    """

    def __init__(self, redis_commands: metrics.RedisCommands, services: dict[str, int]):
        self.redis_commands = redis_commands
        self.services = services
        self.memory: metrics.PeakMemory | None = None

    def open(self, own: dict[str, int]):
        self.pids = {**own, **self.services}
        self.memory = metrics.PeakMemory(own).__enter__()
        self.cpu_before = {role: metrics.cpu_seconds([pid]) for role, pid in self.pids.items()}
        self.started = time.monotonic()

    def close(self):
        self.ended = time.monotonic()
        self.cpu_after = {role: metrics.cpu_seconds([pid]) for role, pid in self.pids.items()}
        assert self.memory is not None, "the window was opened"
        self.memory.__exit__(None, None, None)

    def count_redis_from(self):
        self.redis_keys_before = self.redis_commands.keys()
        self.redis_before = self.redis_commands.snapshot()

    def count_redis_until(self, submissions: int):
        self.redis_after = self.redis_commands.snapshot()
        self.redis_keys_after = self.redis_commands.keys()
        self.redis_submissions = submissions

    def summary(self) -> dict:
        return {
            "seconds": self.ended - self.started,
            "cpu": {role: metrics.cpu_delta(self.cpu_before[role], self.cpu_after[role]) for role in self.pids},
            "redis": metrics.RedisCommands.delta(self.redis_before, self.redis_after),
            "redis_submissions": self.redis_submissions,
            "redis_keys_left": self.redis_keys_after - self.redis_keys_before,
            "peak_rss": self.memory.peaks if self.memory else {},
        }


def worker_stopped_scenario(system: System) -> dict:
    """Stop the worker, leave 32 submissions waiting, and time the form page meanwhile."""
    assert system.worker is not None
    system.worker.stop()
    posted, errors = [], []

    def post_one(number: int):
        try:
            page = HttpClient(system.stack.base_url).submit(
                f"w{number}", "cats", fields=system.fields, timeout=REQUEST_TIMEOUT
            )
            posted.append({"expected": f"w{number} es cats", "page_url": page.url})
        except requests.RequestException as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=post_one, args=(n,), daemon=True) for n in range(WAITING_SUBMISSIONS)]
    for thread in threads:
        thread.start()
    # The project queues all 32; the seed's 4 sync workers take only 4, the rest wait for a worker.
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: system.queue_depth() >= WAITING_SUBMISSIONS, 3, interval=0.1)
    queued = system.queue_depth()
    latencies, failures = time_form_page(system.stack.base_url, PROBE_SECONDS, PROBE_TIMEOUT)
    timeouts = len(failures)
    system.start_worker()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT + 5)
    return {
        "queued": queued,
        "probes": len(latencies) + timeouts,
        "timeouts": timeouts,
        "probe_timeout": PROBE_TIMEOUT,
        "latencies": latencies,
        "posted": posted,
        "errors": errors,
    }


def check_project_results(system: System, posted: list[dict]) -> dict:
    """Every submission the project answered has its line in the results file, once."""
    # A submission that outlived RESULT_TIMEOUT is recorded by the collector (or when its own
    # visitor views its page again).
    system.stack.collect_all_results()
    expected = Counter([s.expected for s in system.load_samples] + [p["expected"] for p in posted])
    landed = Counter(system.stack.results_lines())
    return {
        "submissions": sum(expected.values()),
        "lines": sum(landed.values()),
        "missing": sum((expected - landed).values()),
        "duplicated": sum(count - 1 for line, count in landed.items() if count > 1),
    }


def make_stack(kind: type, root: Path) -> Stack:
    root.mkdir(parents=True)
    return kind(
        root=root,
        transport="rabbitmq",
        queue=f"bench-{root.name}-{uuid.uuid4().hex[:8]}",
        extra_env={"CELERY_BROKER_URL": BROKER_URL, "CELERY_RESULT_BACKEND": BACKEND_URL, **DATABASE_ENV, **RATE_ENV},
    )


def take_turns(
    systems: dict[str, System],
    levels: tuple[int, ...],
    task: str,
    redis_commands: metrics.RedisCommands,
    services: dict[str, int],
    probe: bool,
) -> list[dict]:
    """Every level, ROUNDS times, each system in turn, each turn in a Window of its own; with
    `probe`, a visitor times the form page meanwhile."""
    turns = []
    for level in levels:
        for round_number in range(ROUNDS):
            # Rotate who goes first, so that no system always follows the same one.
            order = list(systems)
            shift = (levels.index(level) + round_number) % len(order)
            for name in order[shift:] + order[:shift]:
                window = Window(redis_commands, services)
                outcome = systems[name].run_level(level, window, probe=probe)
                summary = window.summary()
                turns.append(
                    {"task": task, "system": name, "clients": level, "round": round_number, **outcome, **summary}
                )
                print(
                    f"{task:5} {name:8} {level:3} clients round {round_number}: "
                    f"{outcome['count'] / summary['seconds']:7.1f} submissions/s",
                    flush=True,
                )
    return turns


def start_slow_worker(systems: list[System]) -> Process:
    """Swap the systems' workers for one slow worker that serves all their queues."""
    for system in systems:
        assert system.worker is not None
        system.worker.stop()
    stack = systems[0].stack
    queues = ",".join(system.stack.queue for system in systems)
    command = [
        *(str(VENV_BIN / "celery"), "-A", "bench.slow_worker", "worker", "--loglevel", "info"),
        *("--pool", "threads", "--concurrency", str(SLOW_WORKER_THREADS), "--queues", queues),
        *("--hostname", f"slow-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"),
    ]
    worker = stack._start("slow-worker", command, REPO_DIR, stack.env).wait_for_log("ready", what="slow worker ready")
    for system in systems:
        system.worker = worker
    # The project's pages show "no worker answering" for up to HEALTH_CACHE_SECONDS after its
    # worker stopped: measure once it knows of the slow one.
    project = next((system for system in systems if system.name == "project"), None)
    if project:
        wait_until(
            lambda: workers_up(project.stack.base_url), 30, interval=0.5, what="the project sees the slow worker"
        )
    return worker


def wait_for_redis_clients(redis_commands: metrics.RedisCommands, at_most: int, timeout: float = 10) -> int:
    """Redis's client count once it is down to `at_most`, or after `timeout` seconds: what is left then."""
    deadline = time.monotonic() + timeout
    while (count := redis_commands.connected_clients()) > at_most and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def workers_up(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/healthz", timeout=10).json()["workers"]["up"]
    except (requests.RequestException, ValueError, KeyError):
        return False


def main() -> int:
    run_dir = OUT_DIR / datetime.now().strftime("%Y%m%d-%H%M%S")
    systems = {
        "project": System("project", make_stack(Stack, run_dir / "project"), has_web=True),
        "seed": System(
            "seed",
            make_stack(SeedStack, run_dir / "seed"),
            has_web=True,
            fields=SEED_FIELDS,
            answered=redirected_to_the_form,
        ),
        "reduced": System("reduced", make_stack(ReducedStack, run_dir / "reduced"), has_web=True),
        "floor": System("floor", make_stack(Stack, run_dir / "floor"), has_web=False),
    }
    systems = {name: systems[name] for name in SYSTEMS}
    services = {
        "rabbitmq": metrics.listening_pid(urlparse(BROKER_URL).port or 5672),
        "redis": metrics.listening_pid(urlparse(BACKEND_URL).port or 6379),
    }
    running = {role: pid for role, pid in services.items() if pid is not None}
    redis_commands = metrics.RedisCommands(BACKEND_URL)
    redis_clients_before = redis_commands.connected_clients()
    scenario = {}
    integrity = {}
    started = time.monotonic()
    try:
        for system in systems.values():
            system.start()
        turns = take_turns(systems, LEVELS, "cheap", redis_commands, running, probe=False)
        for name in ("project", "seed"):
            if name in systems:
                scenario[name] = worker_stopped_scenario(systems[name])
                print(
                    f"{name:8} worker stopped: {scenario[name]['timeouts']} of "
                    f"{scenario[name]['probes']} form GETs timed out",
                    flush=True,
                )
        slow_systems = {name: systems[name] for name in SLOW_SYSTEMS if name in systems}
        if slow_systems and SLOW_LEVELS:
            start_slow_worker(list(slow_systems.values()))
            turns += take_turns(slow_systems, SLOW_LEVELS, "slow", redis_commands, running, probe=True)
        if "project" in systems:
            integrity = check_project_results(systems["project"], scenario.get("project", {}).get("posted", []))
    finally:
        for system in systems.values():
            system.stack.stop_all()
            delete_queue(BROKER_URL, system.stack.queue)
    machine = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - started),
        "levels": LEVELS,
        "slow_levels": SLOW_LEVELS,
        "slow_task_seconds": float(os.environ.get("SLOW_TASK_SECONDS", "0.5")),
        "rounds": ROUNDS,
        "warmup": WARMUP,
        "duration": DURATION,
    }
    machine["redis_bytes_per_result"] = round(redis_commands.bytes_per_result())
    # Every process of the run has stopped: what it left connected (sockets take a moment to close).
    machine["redis_clients_before"] = redis_clients_before
    machine["redis_clients_after"] = wait_for_redis_clients(redis_commands, redis_clients_before)
    raw = {"machine": machine, "turns": turns, "scenario": scenario, "integrity": integrity}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (run_dir / "raw.json").write_text(json.dumps(raw))
    table = report.write(raw, RESULTS_DIR)
    print(table)
    return 0 if not integrity or (integrity["missing"] == 0 and integrity["duplicated"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
