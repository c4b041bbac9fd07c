"""Where the benchmarks write, and the broker and result store they use; no third-party imports,
so that the tests can import the benchmark's parts without its plotting requirements."""

import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = Path(os.environ.get("BENCH_OUT_DIR", BENCH_DIR / "out"))
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", BENCH_DIR / "results"))

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "amqp://django:django@127.0.0.1:5672/rabbit")
BACKEND_URL = os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/0")
