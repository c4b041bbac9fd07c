"""Where each slow submission spent its time: a timeline of every POST under closed-loop load.

    python -m bench.timeline [CLIENTS] [SECONDS]

The project runs as `make bench` runs it, with one difference: its settings module is
bench/timeline_settings.py, which adds a middleware (below) that times the steps of each
POST (waiting for a submission slot, counting the queue, saving, publishing, waiting for
the result, recording it, forgetting it) and appends one JSON line per request to
TIMELINE_FILE. The steps are the project's own functions, wrapped where the views and
services call them; nothing of the project changes. The report compares the slowest 1 %
of POSTs with the median one, step by step.
"""

import contextvars
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# The steps of a POST, and the functions that do them: (step, module, function).
STEPS = [
    ("slot", "submissions.services.sending", "submission_slot"),
    ("queue count", "submissions.services.sending", "waiting_tasks"),
    ("publish", "submissions.services.sending", "send"),
    ("health wait", "submissions.views", "health.no_worker_answering"),
    ("result wait", "submissions.services.recording", "outcome_wait"),
    ("record", "submissions.services.recording", "outcome_record"),
    ("  results lock", "submissions.services.recording", "results_file_lock"),
    ("  append + fsync", "submissions.services.recording", "append_line"),
    ("forget", "submissions.services.recording", "forget_result"),
]

# Of those, the context managers: the time to enter them is the wait for them.
CONTEXT_MANAGERS = {"submission_slot", "results_file_lock"}

current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("timeline", default=None)


def timed(step: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        timeline = current.get()
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if timeline is not None:
                timeline[step] = timeline.get(step, 0.0) + time.perf_counter() - started

    return wrapper


def timed_context(step: str, manager: Callable) -> Callable:
    """A context manager whose entering (the wait for it) is timed."""

    @functools.wraps(manager)
    def wrapper(*args, **kwargs):
        inner = manager(*args, **kwargs)

        class Timed:
            def __enter__(self):
                timeline = current.get()
                started = time.perf_counter()
                try:
                    return inner.__enter__()
                finally:
                    if timeline is not None:
                        timeline[step] = timeline.get(step, 0.0) + time.perf_counter() - started

            def __exit__(self, *exc):
                return inner.__exit__(*exc)

        return Timed()

    return wrapper


def install() -> None:
    import importlib

    for step, module_name, name in STEPS:
        module = importlib.import_module(module_name)
        owner, _, attribute = name.rpartition(".")
        target = getattr(module, owner) if owner else module
        original = getattr(target, attribute)
        wrap = timed_context if attribute in CONTEXT_MANAGERS else timed
        setattr(target, attribute, wrap(step, original))


class TimelineMiddleware:
    """Times each POST, and its steps, into TIMELINE_FILE (one JSON line a request)."""

    def __init__(self, get_response):
        install()
        self.get_response = get_response
        self.path = Path(os.environ["TIMELINE_FILE"])

    def __call__(self, request):
        if request.method != "POST":
            return self.get_response(request)
        timeline: dict = {}
        token = current.set(timeline)
        started = time.perf_counter()
        try:
            return self.get_response(request)
        finally:
            timeline["whole"] = time.perf_counter() - started
            timeline["pid"] = os.getpid()
            current.reset(token)
            with self.path.open("a") as out:
                out.write(json.dumps(timeline) + "\n")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def report(timelines: list[dict], clients: int, seconds: int) -> str:
    steps = [step for step, _, _ in STEPS]
    ordered = sorted(timelines, key=lambda t: t["whole"])
    slowest = ordered[-max(len(ordered) // 100, 1) :]
    middle = ordered[len(ordered) // 2 - 5 : len(ordered) // 2 + 5]

    def mean_ms(rows: list[dict], step: str) -> float:
        return sum(row.get(step, 0.0) for row in rows) / max(len(rows), 1) * 1000

    lines = [
        f"# Timeline of the project's POSTs, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        "",
        f"`python -m bench.timeline {clients} {seconds}`: {len(timelines)} POSTs from {clients} closed-loop "
        "browsers. Each step is the time spent in it, in ms (an indented step is part of the one above; "
        "a slot's or a lock's is the wait for it); `other` is the rest of the POST (Django, the form, "
        "the insert's commit, the redirect).",
        "",
        "| POSTs | whole | " + " | ".join(steps) + " | other |",
        "| --- | ---: | " + " | ".join("---:" for _ in steps) + " | ---: |",
    ]
    for label, rows in (("median 10", middle), (f"slowest {len(slowest)} (1 %)", slowest)):
        whole = mean_ms(rows, "whole")
        parts = [mean_ms(rows, step) for step in steps]
        other = whole - sum(part for step, part in zip(steps, parts, strict=True) if not step.startswith(" "))
        lines.append(f"| {label} | {whole:.1f} | " + " | ".join(f"{p:.1f}" for p in parts) + f" | {other:.1f} |")
    lines += [
        "",
        f"p50 {percentile([t['whole'] for t in timelines], 0.5) * 1000:.1f} ms, "
        f"p99 {percentile([t['whole'] for t in timelines], 0.99) * 1000:.1f} ms (server side).",
    ]
    return "\n".join(lines) + "\n"


def main(clients: int = 64, seconds: int = 20) -> int:
    from bench.load import Load
    from bench.run import System, make_stack
    from bench.settings import BROKER_URL, OUT_DIR, RESULTS_DIR
    from harness.external_services import delete_queue
    from harness.processes import Stack

    run_dir = OUT_DIR / f"timeline-{datetime.now():%Y%m%d-%H%M%S}"
    stack = make_stack(Stack, run_dir / "project")
    timeline_file = run_dir / "timeline.jsonl"
    web_env = {
        **stack.env,
        # This folder on the path, not the repository's root, whose web_app/ would hide the
        # project's web_app package; the worker keeps its own settings.
        "DJANGO_SETTINGS_MODULE": "timeline_settings",
        "PYTHONPATH": str(Path(__file__).resolve().parent),
        "TIMELINE_FILE": str(timeline_file),
    }
    system = System("project", stack, has_web=True)
    try:
        system.start_worker()
        system.web = stack.start_web(env=web_env)
        load = Load(stack.base_url, clients).start()
        time.sleep(seconds)
        load.stop()
    finally:
        stack.stop_all()
        delete_queue(BROKER_URL, stack.queue)
    timelines = [json.loads(line) for line in timeline_file.read_text().splitlines()]
    table = report(timelines, clients, seconds)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"timeline-{clients}-clients.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
