"""What each request of a browser's cycle costs, one request at a time, project beside the seed.

    python -m bench.costs [REQUESTS]

Both web apps run under gunicorn with their worker, as in `make bench`; one
browser at a time makes REQUESTS requests of each kind, and the CPU of the web
process tree (and of the worker, for the POST) is divided by the count. No
other load runs, so these are the costs of the work itself, without the
contention of the load levels; a static file of the project gives gunicorn's
own cost of a request. Both redirect after the POST: the seed to its form page,
the project to the submission's page (POST/redirect/GET); the seed's cycle is
thus its form page twice and the POST.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import metrics
from bench.run import System, make_stack
from bench.settings import BROKER_URL, OUT_DIR, RESULTS_DIR
from bench.stacks import SEED_FIELDS, SeedStack
from harness.external_services import delete_queue
from harness.processes import HttpClient, Stack

WARMUP_SUBMISSIONS = 50


def post(browser: HttpClient, token: str, number: int, follow: bool, fields=("first", "second")):
    data = {"csrfmiddlewaretoken": token, fields[0]: f"c{number}", fields[1]: "dogs"}
    page = browser.session.post(browser.base_url + "/", data=data, timeout=30, allow_redirects=follow)
    if page.status_code not in (200, 302):
        raise RuntimeError(f"POST answered {page.status_code}")
    return page


@dataclass(frozen=True)
class RequestKind:
    label: str
    call: Callable[[int], object]  # makes one such request, given a sequence number
    per_cycle: int  # how many a browser's cycle makes (0: measured, but not part of the cycle)


def request_kinds(system: System, browser: HttpClient) -> list[RequestKind]:
    """The requests of one browser cycle, and a few beside it that say what a part costs."""
    token = browser.csrf_token()

    def get_form(_number: int) -> None:
        browser.get("/").raise_for_status()

    def get_form_as_newcomer(_number: int) -> None:
        HttpClient(browser.base_url).get("/").raise_for_status()

    if system.name == "project":
        detail = browser.path_of(post(browser, token, 0, follow=True))
        return [
            RequestKind("GET / (the form and the history)", get_form, 1),
            # What the history costs the form page: a visitor with none sees the form alone.
            RequestKind("GET / (a new visitor: the form alone, no history)", get_form_as_newcomer, 0),
            RequestKind(
                "POST / (send, wait, record; answers with a redirect)", lambda n: post(browser, token, n, False), 1
            ),
            RequestKind("GET the submission's page", lambda n: browser.get(detail).raise_for_status(), 1),
            RequestKind(
                "GET a static file (gunicorn's own cost)",
                lambda n: browser.get("/static/submissions/style.css").raise_for_status(),
                0,
            ),
        ]
    return [
        RequestKind("GET / (the form; twice a cycle)", get_form, 2),
        RequestKind(
            "POST / (save, send, spin on ready(), write; answers with a redirect)",
            lambda n: post(browser, token, n, False, system.fields),
            1,
        ),
    ]


def measure(system: System, count: int) -> list[dict]:
    browser = HttpClient(system.stack.base_url)
    for number in range(WARMUP_SUBMISSIONS):
        browser.submit(f"warm{number}", "dogs", fields=system.fields)
    rows = []
    for kind in request_kinds(system, browser):
        pids = [system.web_pid, system.worker_pid]
        before = {pid: metrics.cpu_seconds([pid]) for pid in pids}
        started = time.monotonic()
        for number in range(count):
            kind.call(number)
        seconds = time.monotonic() - started
        web, worker = (metrics.cpu_delta(before[pid], metrics.cpu_seconds([pid])) for pid in pids)
        rows.append(
            {
                "system": system.name,
                "request": kind.label,
                "per_cycle": kind.per_cycle,
                "web_ms": web / count * 1000,
                "worker_ms": worker / count * 1000,
                "wall_ms": seconds / count * 1000,
            }
        )
        print(f"{system.name:8} {kind.label:62} web {rows[-1]['web_ms']:5.2f} ms", flush=True)
    return rows


def main(count: int = 300) -> int:
    run_dir = OUT_DIR / f"costs-{datetime.now():%Y%m%d-%H%M%S}"
    systems = [
        System("project", make_stack(Stack, run_dir / "project"), has_web=True),
        System("seed", make_stack(SeedStack, run_dir / "seed"), has_web=True, fields=SEED_FIELDS),
    ]
    rows = []
    try:
        for system in systems:
            system.start()
        for system in systems:
            rows += measure(system, count)
    finally:
        for system in systems:
            system.stack.stop_all()
            delete_queue(BROKER_URL, system.stack.queue)
    cycle = {
        system.name: sum(r["web_ms"] * r["per_cycle"] for r in rows if r["system"] == system.name) for system in systems
    }
    lines = [
        f"# CPU of each request, one at a time: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        "",
        f"`python -m bench.costs {count}`: {count} requests of each kind from one browser, no other load; "
        "CPU (user + system) of the web process tree, and of the worker's, per request.",
        "",
        "| system | request | web CPU ms | worker CPU ms | wall ms |",
        "| --- | --- | ---: | ---: | ---: |",
        *(
            f"| {r['system']} | {r['request']} | {r['web_ms']:.2f} | {r['worker_ms']:.2f} | {r['wall_ms']:.2f} |"
            for r in rows
        ),
        "",
        "Web CPU of a whole cycle (the static file and the new visitor's form left out): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in cycle.items())
        + f"; project ÷ seed {cycle['project'] / cycle['seed']:.2f}.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "costs.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
