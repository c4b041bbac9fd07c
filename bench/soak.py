"""`make soak`: twenty thousand submissions through the real stack, counting what the web processes hold.

The Procfile's web (gunicorn with gevent), worker and collector run against the
local RabbitMQ and Redis (or CELERY_BROKER_URL / CELERY_RESULT_BACKEND's), and
closed-loop browsers submit until SOAK_SUBMISSIONS are answered. Every few
seconds it prints the web processes' open files, their RSS and Redis
connections, and Redis's own client count; at the end it writes soak.md,
soak.json and soak.png to BENCH_RESULTS_DIR, and exits 1 unless every
submission was answered with its result, every line is in the results file
once, and the counts stayed flat after the warm-up.
"""

import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from harness.external_services import delete_queue
from harness.processes import RABBITMQ_URL, REDIS_URL, Stack
from harness.resources import gunicorn_workers, holdings, redis_clients, redis_port

from .load import Load

SUBMISSIONS = int(os.environ.get("SOAK_SUBMISSIONS", "20000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "8"))
SAMPLE_INTERVAL = 5
# The run ends here whatever it reached, and fails.
MAX_SECONDS = int(os.environ.get("SOAK_MAX_SECONDS", "1800"))
# Counted from the sample taken once this share of the submissions is answered: pools have
# grown to the load, Python's allocator has its arenas.
WARM_UP_SHARE = 0.1
# Flat: how much more than at the end of the warm-up the run may hold at any later sample.
MAX_MORE_REDIS_CLIENTS = 20
MAX_MORE_OPEN_FILES = 8
MAX_RSS_GROWTH = 0.25


@dataclass
class Reading:
    seconds: float
    answered: int
    failed: int
    open_files: int
    redis_connections: int
    rss_mb: float
    redis_clients: int


def soak_stack(root: Path) -> Stack:
    return Stack(root=root, transport="rabbitmq", extra_env={"GUNICORN_WORKER_CLASS": "gevent"})


def read(stack_load: Load, workers, port: int, started: float) -> Reading:
    held = holdings(workers, port)
    return Reading(
        seconds=round(time.monotonic() - started, 1),
        answered=sum(1 for sample in stack_load.samples if sample.ok),
        failed=len(stack_load.errors) + sum(1 for sample in stack_load.samples if not sample.ok),
        open_files=held.open_files,
        redis_connections=held.redis_connections,
        rss_mb=round(held.rss_bytes / 2**20, 1),
        redis_clients=redis_clients(REDIS_URL),
    )


def verdicts(readings: list[Reading], lines: list[str], expected: list[str]) -> list[tuple[str, str, bool]]:
    """(what, measured, held) for each promise of the soak."""
    warm = next((r for r in readings if r.answered >= WARM_UP_SHARE * SUBMISSIONS), readings[-1])
    later = [r for r in readings if r.seconds >= warm.seconds]
    most_clients = max(r.redis_clients for r in later)
    most_files = max(r.open_files for r in later)
    most_rss = max(r.rss_mb for r in later)
    last = readings[-1]
    counts = Counter(lines)
    twice = sum(1 for count in counts.values() if count > 1)
    missing = len(set(expected) - set(counts))
    return [
        (
            f"submissions answered with their result (of {SUBMISSIONS:,})",
            f"{last.answered:,}",
            last.answered >= SUBMISSIONS,
        ),
        ("submissions failed", f"{last.failed}", last.failed == 0),
        ("lines missing, lines written twice", f"{missing}, {twice}", missing == 0 and twice == 0),
        (
            f"Redis clients after warm-up (≤ +{MAX_MORE_REDIS_CLIENTS})",
            f"{warm.redis_clients} → at most {most_clients}",
            most_clients <= warm.redis_clients + MAX_MORE_REDIS_CLIENTS,
        ),
        (
            f"web processes' open files after warm-up (≤ +{MAX_MORE_OPEN_FILES})",
            f"{warm.open_files} → at most {most_files}",
            most_files <= warm.open_files + MAX_MORE_OPEN_FILES,
        ),
        (
            f"web processes' RSS after warm-up (≤ +{MAX_RSS_GROWTH:.0%})",
            f"{warm.rss_mb:.0f} MB → at most {most_rss:.0f} MB (+{most_rss / warm.rss_mb - 1:.1%})",
            most_rss <= warm.rss_mb * (1 + MAX_RSS_GROWTH),
        ),
    ]


def markdown(readings: list[Reading], checks: list[tuple[str, str, bool]], started_at: str) -> str:
    rate = readings[-1].answered / readings[-1].seconds if readings[-1].seconds else 0
    rows = [
        f"# Soak: {SUBMISSIONS:,} submissions, {CLIENTS} browsers, {started_at}",
        "",
        f"gunicorn with gevent (2 processes), the worker and the collector on RabbitMQ and Redis; "
        f"{readings[-1].seconds:.0f} s, {rate:.0f} submissions/s; {os.cpu_count()} cores.",
        "",
        "| Promise | Measured | Held |",
        "| --- | --- | --- |",
        *(f"| {what} | {measured} | {'yes' if held else 'no'} |" for what, measured, held in checks),
        "",
        "| s | answered | failed | open files | web's Redis connections | web RSS (MB) | Redis clients |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {r.seconds:.0f} | {r.answered:,} | {r.failed} | {r.open_files} | {r.redis_connections} "
            f"| {r.rss_mb:.0f} | {r.redis_clients} |"
            for r in readings
        ),
    ]
    return "\n".join(rows) + "\n"


def plot(readings: list[Reading], path: Path) -> None:
    answered = [r.answered for r in readings]
    figure, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(answered, [r.open_files for r in readings], label="web processes' open files")
    axes[0].plot(answered, [r.redis_connections for r in readings], label="web processes' Redis connections")
    axes[1].plot(answered, [r.rss_mb for r in readings], label="web processes' RSS (MB)", color="tab:green")
    axes[2].plot(answered, [r.redis_clients for r in readings], label="Redis connected_clients", color="tab:red")
    for axis in axes:
        axis.set_ylim(bottom=0)
        axis.legend(loc="lower right")
        axis.grid(alpha=0.3)
    axes[2].set_xlabel("submissions answered")
    axes[0].set_title(f"Soak: {SUBMISSIONS:,} submissions, {CLIENTS} browsers, gunicorn with gevent")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR", "bench/results/latest"))
    results_dir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        stack = soak_stack(Path(scratch))
        try:
            stack.start_worker()
            web = stack.start_web()
            stack.start_collector()
            workers = gunicorn_workers(web.popen.pid)
            port = redis_port(REDIS_URL)
            load = Load(stack.base_url, CLIENTS).start()
            started = time.monotonic()
            readings: list[Reading] = []
            print(f"{'s':>6} {'answered':>9} {'failed':>6} {'files':>6} {'redis':>6} {'rss MB':>7} {'clients':>7}")
            while True:
                time.sleep(SAMPLE_INTERVAL)
                reading = read(load, workers, port, started)
                readings.append(reading)
                print(
                    f"{reading.seconds:6.0f} {reading.answered:9,} {reading.failed:6} {reading.open_files:6} "
                    f"{reading.redis_connections:6} {reading.rss_mb:7.0f} {reading.redis_clients:7}",
                    flush=True,
                )
                if reading.answered >= SUBMISSIONS or reading.seconds > MAX_SECONDS:
                    break
            load.stop()
            readings.append(read(load, workers, port, started))
            expected = [sample.expected for sample in load.samples if sample.ok]
            stack.collect_all_results(timeout=120)
            lines = stack.results_lines()
        finally:
            stack.stop_all()
            delete_queue(RABBITMQ_URL, stack.queue)
    checks = verdicts(readings, lines, expected)
    (results_dir / "soak.md").write_text(markdown(readings, checks, started_at), encoding="utf-8")
    (results_dir / "soak.json").write_text(
        json.dumps({"started_at": started_at, "readings": [asdict(r) for r in readings]}, indent=1) + "\n",
        encoding="utf-8",
    )
    plot(readings, results_dir / "soak.png")
    for what, measured, held in checks:
        print(f"{'held' if held else 'BROKEN':>6}  {what}: {measured}")
    print(f"Written: {results_dir / 'soak.md'}, soak.json, soak.png")
    return 0 if all(held for _, _, held in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
