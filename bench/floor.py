"""The floor: a bare Celery client that sends adding_taski and waits with result.get().

Run as its own process, so that its CPU is measured like the web app's:
    python -m bench.floor CLIENTS WARMUP_SECONDS DURATION_SECONDS
It prints "measuring" when the warm-up ends, then one JSON line of samples.
"""

import json
import os
import sys
import threading
import time

from celery import Celery

# Bounds a lost result; never reached while the worker runs.
GET_TIMEOUT = 30


def main(clients: int, warmup: float, duration: float) -> None:
    app = Celery(
        "floor",
        broker=os.environ["CELERY_BROKER_URL"],
        backend=os.environ["CELERY_RESULT_BACKEND"],
    )
    app.conf.task_default_queue = os.environ["CELERY_TASK_DEFAULT_QUEUE"]
    stop = threading.Event()
    samples = []  # (end time, latency, correct)
    errors = []

    def client(number: int) -> None:
        sent = 0
        while not stop.is_set():
            first, second = f"c{number}", f"n{sent}"
            started = time.monotonic()
            try:
                value = app.send_task("adding_taski", args=(first, second)).get(timeout=GET_TIMEOUT)
            except Exception as exc:
                errors.append(repr(exc))
                continue
            ended = time.monotonic()
            samples.append((ended, ended - started, value == f"{first} es {second}"))
            sent += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    window_start = time.monotonic()
    print("measuring", flush=True)
    time.sleep(duration)
    window_end = time.monotonic()
    print("done", flush=True)
    stop.set()
    for thread in threads:
        thread.join(GET_TIMEOUT)
    inside = [s for s in samples if window_start <= s[0] <= window_end]
    print(
        json.dumps(
            {
                "duration": window_end - window_start,
                "latencies": [s[1] for s in inside],
                "submissions": len(samples),
                "wrong": sum(1 for s in samples if not s[2]),
                "errors": errors[:5],
                "error_count": len(errors),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
