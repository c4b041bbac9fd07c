"""Where the project's web time goes: py-spy samples the gunicorn workers under closed-loop load.

    python -m bench.profile [CLIENTS] [SECONDS] [cpu|wall]

cpu: only samples of the thread holding the GIL count (py-spy --gil), so the
shares are of the Python CPU time of the web processes. wall: every thread is
sampled, waiting or not (py-spy --idle), and the shares are of the time spent
inside Django's request handler, so they say where a request's latency goes.
Each line is the share of samples whose stack passes through that function, so
shares overlap.
"""

import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.load import Load
from bench.run import VENV_BIN, System, make_stack
from bench.settings import BROKER_URL, OUT_DIR, RESULTS_DIR
from harness.external_services import delete_queue
from harness.processes import Stack

# (what it is, a frame name as py-spy prints it), in the order a submission meets them.
PARTS = [
    ("form page: render_form (history page, worker state, template)", "render_form (submissions/views.py"),
    ("  its template rendering", "render_to_string (django/template/loader.py"),
    ("POST: submission_create (insert, commit, send_task)", "submission_create (submissions/services/sending.py"),
    ("  send_task (publish, wait for the confirm)", "send_task (celery/app/base.py"),
    ("POST: wait_for_result (Redis pub/sub)", "wait_for_result (submissions/services/waiting.py"),
    (
        "POST: outcome_record (claim the line, append + fsync, mark done)",
        "outcome_record (submissions/services/recording.py",
    ),
    ("  append_line (write, fsync)", "append_line (submissions/results_file.py"),
    ("  forget_result (the Redis DEL)", "forget_result (submissions/services/recording.py"),
    ("result page: submission_detail", "submission_detail (submissions/views.py"),
    ("Django request handling, all views included", "__call__ (django/core/handlers/wsgi.py"),
    ("  opening the SQLite connection", "get_new_connection (django/db/backends/sqlite3/base.py"),
    ("Celery's result drainer greenlet", "run (celery/backends/asynchronous.py"),
    ("gunicorn gevent: parse, keep-alive, respond", "handle (gunicorn/workers/base_async.py"),
    ("gunicorn access log", "access (gunicorn/glogging.py"),
]


REQUEST_FRAME = "__call__ (django/core/handlers/wsgi.py"


def shares(raw_path: Path, within: str = "") -> tuple[int, Counter]:
    """Total samples (of stacks through `within`), and samples per part, from py-spy's raw output."""
    total, counts = 0, Counter[str]()
    for line in raw_path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if within not in stack:
            continue
        total += int(number)
        for name, frame in PARTS:
            if frame in stack:
                counts[name] += int(number)
    return total, counts


def main(clients: int = 16, seconds: int = 15, mode: str = "cpu") -> int:
    sampling = ["--gil"] if mode == "cpu" else ["--idle"]
    run_dir = OUT_DIR / f"profile-{datetime.now():%Y%m%d-%H%M%S}"
    system = System("project", make_stack(Stack, run_dir), has_web=True)
    raw_path = Path(tempfile.mkdtemp()) / "web.txt"
    try:
        system.start()
        load = Load(system.stack.base_url, clients).start()
        time.sleep(2)
        started = time.monotonic()
        subprocess.run(
            [
                str(VENV_BIN / "py-spy"),
                "record",
                *sampling,
                "--subprocesses",
                "--rate",
                "250",
                "--duration",
                str(seconds),
                "--format",
                "raw",
                "--output",
                str(raw_path),
                "--pid",
                str(system.web_pid),
            ],
            check=True,
            capture_output=True,
            timeout=seconds + 60,
        )
        ended = time.monotonic()
        load.stop()
    finally:
        system.stack.stop_all()
        delete_queue(BROKER_URL, system.stack.queue)
    done = load.between(started, ended)
    total, counts = shares(raw_path, within="" if mode == "cpu" else REQUEST_FRAME)
    what = (
        "GIL-holding samples of the gunicorn workers"
        if mode == "cpu"
        else ("samples of gunicorn threads inside a Django request, waiting or running")
    )
    lines = [
        f"# Profile ({mode}) of the project's web processes, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        "",
        f"{clients} closed-loop browsers; py-spy sampled for {seconds} s "
        f"(`python -m bench.profile {clients} {seconds} {mode}`), during which, with its start-up, "
        f"{len(done)} submissions completed in {ended - started:.0f} s.",
        f"Shares of {total} {what}; a line includes the lines under it.",
        "",
        f"| where | share of web {'CPU' if mode == 'cpu' else 'request time'} |",
        "| --- | ---: |",
        *(f"| {name} | {counts[name] * 100 / max(total, 1):.0f} % |" for name, _ in PARTS),
    ]
    text = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"profile-{mode}-{clients}-clients.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    clients, seconds, mode = (sys.argv[1:] + ["16", "15", "cpu"][len(sys.argv) - 1 :])[:3]
    sys.exit(main(int(clients), int(seconds), mode))
