"""What a large submissions table costs: the project on a table of ROWS submissions beside the
project on an empty one, on SQLite and on PostgreSQL.

    python -m bench.large_table [ROWS]        (make bench-large-table: a million)

For each database two stacks run side by side (gunicorn with gevent and the worker, on the
local RabbitMQ and Redis), one of them filled with ROWS done submissions made over the last
29 days (so none is old enough to prune), spread over VISITORS visitors, one of whom, the
benchmark's own browser, has LONG_HISTORY of them; on the other table that browser has
EMPTY_TABLE_HISTORY, so that both form pages show a full page. Taking turns, TURNS times each:

- submissions/s and the POST's p99 from CLIENTS browsers with the cheap task;
- the form page of the visitor with the long history (p50, p99 of FORM_REQUESTS GETs);
- the collector's sweep (`collect_pending`) and the retention's pruning (`submissions_prune`)
  with nothing to do, timed inside a Django shell of the stack; then one batch of a backlog,
  the rows older than a day made prunable for it (so each turn removes 5,000 of the million).
"""

import json
import sqlite3
import statistics
import sys
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg

from bench.load import Load
from bench.settings import BACKEND_URL, BROKER_URL, OUT_DIR, RESULTS_DIR
from harness.external_services import create_database, delete_queue, drop_database
from harness.processes import HttpClient, Stack

VISITORS = 10_000
LONG_HISTORY = 10_000
# The rows of the "empty" table: the visitor's alone, two pages of its history.
EMPTY_TABLE_HISTORY = 20
CLIENTS = 16
TURNS = 3
WARMUP = 1.5
DURATION = 8.0
FORM_REQUESTS = 200
SWEEPS = 50
COLUMNS = (
    "visitor",
    "first",
    "second",
    "task_id",
    "status",
    "result",
    "error",
    "created_at",
    "finished_at",
    "last_sent_at",
    "resends",
    "line_host",
)

# Run in the stack's `manage.py shell`, as JSON: the mean milliseconds of a sweep and of a pruning
# with nothing to prune; then, with the rows older than a day made prunable, of one batch of a
# backlog (PRUNE_BATCHES batches of 1,000 rows a turn on the large table, a few rows on the other).
PRUNE_BATCHES = 5
TIMINGS_SCRIPT = f"""
import json, time
from django.conf import settings
from submissions.services import collect_pending, submissions_prune

def mean_ms(call, times):
    started = time.perf_counter()
    for _ in range(times):
        call()
    return (time.perf_counter() - started) / times * 1000

collect_pending()
submissions_prune()
timings = {{"sweep_ms": mean_ms(collect_pending, {SWEEPS}), "prune_ms": mean_ms(submissions_prune, {SWEEPS})}}
settings.SUBMISSIONS_KEEP_DAYS = 1
timings["prune_batch_ms"] = mean_ms(lambda: submissions_prune(max_batches=1), {PRUNE_BATCHES})
print(json.dumps(timings))
"""


def submission_rows(count: int, history_visitor: str, history: int):
    """`count` done submissions over the last 29 days, oldest first; `history` of them history_visitor's."""
    now = datetime.now(UTC)
    span = timedelta(days=29).total_seconds()
    for number in range(count):
        created = now - timedelta(seconds=span * (1 - number / count))
        visitor = history_visitor if number % (count // history or 1) == 0 and history > 0 else f"v{number % VISITORS}"
        first = f"f{number}"
        yield (
            visitor,
            first,
            "dogs",
            uuid.uuid4(),
            "done",
            f"{first} es dogs",
            "",
            created,
            created + timedelta(milliseconds=20),
            created,
            0,
            "",
        )


def fill_submissions(stack: Stack, count: int, history_visitor: str, history: int) -> None:
    """Insert the rows straight into the stack's database, as months of use would have left them."""
    rows = submission_rows(count, history_visitor, history)
    columns = ", ".join(COLUMNS)
    if stack.database_url:
        with psycopg.connect(stack.database_url) as connection:
            with connection.cursor().copy(f"COPY submissions_submission ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            connection.commit()
            # What autovacuum does soon after a bulk load: the planner's statistics.
            connection.execute("ANALYZE submissions_submission")
        return

    def sqlite_row(row):
        # As Django stores them in SQLite: a UUID as 32 hex digits, a time as naive UTC text.
        return tuple(
            value.hex
            if isinstance(value, uuid.UUID)
            else value.replace(tzinfo=None).isoformat(" ")
            if isinstance(value, datetime)
            else value
            for value in row
        )

    placeholders = ", ".join("?" for _ in COLUMNS)
    with closing(sqlite3.connect(stack.root / "web.sqlite3", timeout=60)) as database, database:
        database.executemany(
            f"INSERT INTO submissions_submission ({columns}) VALUES ({placeholders})",  # noqa: S608
            (sqlite_row(row) for row in rows),
        )


def visitor_of(stack: Stack, first: str) -> str:
    """The visitor id the web app gave the browser that submitted `first`."""
    if stack.database_url:
        with psycopg.connect(stack.database_url) as connection:
            found = connection.execute("SELECT visitor FROM submissions_submission WHERE first = %s", (first,))
            return found.fetchone()[0]  # type: ignore[index]
    with closing(sqlite3.connect(stack.root / "web.sqlite3", timeout=60)) as database:
        return database.execute("SELECT visitor FROM submissions_submission WHERE first = ?", (first,)).fetchone()[0]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def submissions_turn(stack: Stack) -> dict:
    load = Load(stack.base_url, CLIENTS).start()
    try:
        load.wait_until_landed(60)
        time.sleep(WARMUP)
        started = time.monotonic()
        time.sleep(DURATION)
        ended = time.monotonic()
    finally:
        load.stop()
    inside = load.between(started, ended)
    return {
        "per_second": len(inside) / (ended - started),
        "post_p99_ms": percentile([s.post_seconds for s in inside], 0.99) * 1000,
        "failed": sum(not s.ok for s in inside) + len(load.errors),
    }


def form_turn(browser: HttpClient) -> dict:
    seconds = []
    for _ in range(FORM_REQUESTS):
        started = time.monotonic()
        browser.get("/").raise_for_status()
        seconds.append(time.monotonic() - started)
    return {"form_p50_ms": statistics.median(seconds) * 1000, "form_p99_ms": percentile(seconds, 0.99) * 1000}


def timings_turn(stack: Stack) -> dict:
    shell = stack.manage("shell", "-c", TIMINGS_SCRIPT, timeout=600)
    if shell.returncode != 0:
        raise RuntimeError(f"the timings failed: {shell.stderr[-2000:]}")
    return json.loads(shell.stdout.strip().splitlines()[-1])


def measure_database(database: str, rows: int, run_dir) -> list[dict]:
    stacks: dict[str, Stack] = {}
    databases = []
    try:
        for size in ("empty", "large"):
            root = run_dir / f"{database}-{size}"
            root.mkdir(parents=True)
            stack = Stack(
                root=root,
                transport="rabbitmq",
                queue=f"bench-{root.name}-{uuid.uuid4().hex[:8]}",
                extra_env={
                    "CELERY_BROKER_URL": BROKER_URL,
                    "CELERY_RESULT_BACKEND": BACKEND_URL,
                    "SUBMISSIONS_RATE": "off",
                },
            )
            if database == "postgresql":
                name = f"bench_{root.name}_{uuid.uuid4().hex[:8]}".replace("-", "_")
                stack.database_url = create_database(name)
                databases.append(name)
            stack.start_worker()
            stack.start_web()
            stacks[size] = stack
        browsers = {size: HttpClient(stack.base_url) for size, stack in stacks.items()}
        for browser in browsers.values():
            browser.submit("history", "dogs").raise_for_status()
        # On the empty table too the visitor has more than a page of history, so that both form
        # pages show as many rows: what differs is the table and the length of the history alone.
        fill_submissions(
            stacks["empty"], EMPTY_TABLE_HISTORY, visitor_of(stacks["empty"], "history"), EMPTY_TABLE_HISTORY
        )
        started = time.monotonic()
        fill_submissions(stacks["large"], rows, visitor_of(stacks["large"], "history"), LONG_HISTORY)
        print(f"{database}: {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
        turns = []
        for turn in range(TURNS):
            order = ["empty", "large"] if turn % 2 == 0 else ["large", "empty"]
            for size in order:
                result = {
                    "database": database,
                    "table": size,
                    "turn": turn,
                    **submissions_turn(stacks[size]),
                    **form_turn(browsers[size]),
                    **timings_turn(stacks[size]),
                }
                turns.append(result)
                print(
                    f"{database:10} {size:5} turn {turn}: {result['per_second']:6.1f} submissions/s, "
                    f"POST p99 {result['post_p99_ms']:5.0f} ms, form p99 {result['form_p99_ms']:5.1f} ms, "
                    f"sweep {result['sweep_ms']:6.2f} ms, prune {result['prune_ms']:6.2f} ms, "
                    f"a backlog's batch {result['prune_batch_ms']:6.1f} ms",
                    flush=True,
                )
        return turns
    finally:
        for stack in stacks.values():
            stack.stop_all()
            delete_queue(BROKER_URL, stack.queue)
        for name in databases:
            drop_database(name)


FIGURES = (
    ("per_second", "submissions/s", "{:.1f}"),
    ("post_p99_ms", "POST p99 ms", "{:.0f}"),
    ("form_p50_ms", "form page p50 ms (long history)", "{:.1f}"),
    ("form_p99_ms", "form page p99 ms (long history)", "{:.1f}"),
    ("sweep_ms", "collector's sweep ms", "{:.2f}"),
    ("prune_ms", "pruning, nothing to prune, ms", "{:.2f}"),
    ("prune_batch_ms", "pruning a backlog, ms a batch (1,000 rows on the large table)", "{:.1f}"),
)


def report(turns: list[dict], rows: int) -> str:
    lines = [
        f"# A table of {rows:,} submissions against an empty one: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        "",
        f"`python -m bench.large_table {rows}`: medians of {TURNS} turns each, taken in turn; the empty "
        f"table holds only the visitor's {EMPTY_TABLE_HISTORY} submissions; "
        f"{CLIENTS} browsers for {DURATION:g} s a turn, {FORM_REQUESTS} form pages of a visitor with "
        f"{LONG_HISTORY:,} submissions, {SWEEPS} sweeps and prunings.",
        "",
        "| database | figure | empty table | large table | large ÷ empty |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    failed = sum(turn["failed"] for turn in turns)
    for database in dict.fromkeys(turn["database"] for turn in turns):
        for key, label, number in FIGURES:
            empty, large = (
                statistics.median(t[key] for t in turns if t["database"] == database and t["table"] == size)
                for size in ("empty", "large")
            )
            lines.append(
                f"| {database} | {label} | {number.format(empty)} | {number.format(large)} | {large / empty:.2f} |"
            )
    lines += ["", f"Submissions not answered with their result: {failed}."]
    return "\n".join(lines) + "\n"


def main(rows: int = 1_000_000) -> int:
    run_dir = OUT_DIR / f"large-table-{datetime.now():%Y%m%d-%H%M%S}"
    turns = []
    for database in ("sqlite", "postgresql"):
        turns += measure_database(database, rows, run_dir)
    text = report(turns, rows)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "large-table.md").write_text(text, encoding="utf-8")
    (RESULTS_DIR / "large-table.json").write_text(json.dumps(turns, indent=1), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
