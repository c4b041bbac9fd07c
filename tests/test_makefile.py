"""The Makefile's ways in, as a user types them: `make run` stopped by Ctrl-C, `make manage` reading an env file.

Each test writes a scratch env file (what `.env` holds for a user) and passes it
as ENV_FILE, so that a developer's own `.env` is neither read nor touched.
"""

import os
import signal
import subprocess

import psutil
import pytest

from harness.external_services import amqp_channel, declare_queue, delete_queue, publish_raw, require
from harness.processes import RABBITMQ_URL, REDIS_URL, REPO_DIR, VENV_BIN, HttpClient, free_port, wait_until

# Log lines that would tell a user something went wrong while it stopped.
FAILURE_SIGNS = ["SIGKILL", "exited with", "was sent SIGTERM", "Error", "Interrupt", "Traceback", "rc=-", "rc=1"]


def clean_environment(**extra) -> dict:
    """The environment of a user's shell: none of the project's variables, the virtual environment first."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CELERY_", "DJANGO_", "GUNICORN_", "RESULT", "EMBEDDED_", "HEALTH_"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def write_env_file(path, **variables):
    path.write_text("".join(f"{name}={value}\n" for name, value in variables.items()), encoding="utf-8")
    return path


def scratch_configuration(root, transport: str, port: int, queue: str) -> dict:
    """What a user's .env would say, with every file of the run under `root`."""
    variables = {
        "DJANGO_DATABASE_PATH": root / "db.sqlite3",
        "DJANGO_STATIC_ROOT": root / "static",
        "RESULTS_DIR": root / "results",
        "EMBEDDED_BROKER_DIR": root / "embedded-broker",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "RESULT_TIMEOUT": "10",
    }
    if transport == "rabbitmq":
        variables.update(CELERY_BROKER_URL=RABBITMQ_URL, CELERY_RESULT_BACKEND=REDIS_URL)
    return variables


def make(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("transport", ["embedded", "rabbitmq"])
def test_ctrl_c_on_make_run_stops_every_process_gracefully(tmp_path, transport):
    if transport == "rabbitmq":
        require(RABBITMQ_URL, "RabbitMQ")
        require(REDIS_URL, "Redis")
    port, queue = free_port(), f"e2e-make-run-{free_port()}"
    env_file = write_env_file(tmp_path / "env", **scratch_configuration(tmp_path, transport, port, queue))
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        # A session of its own, as a terminal gives a command: Ctrl-C signals its whole foreground group.
        run = subprocess.Popen(
            ["make", "run", f"ENV_FILE={env_file}"],
            cwd=REPO_DIR,
            env=clean_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = []
    try:
        browser = HttpClient(f"http://127.0.0.1:{port}")

        def answering():
            text = log_path.read_text(errors="replace")
            if run.poll() is not None or " ready." not in text:
                return run.poll() is not None
            try:
                return browser.get("/", timeout=5).status_code == 200
            except OSError:
                return False

        wait_until(answering, timeout=90, interval=0.2, what="make run answering")
        assert run.poll() is None, log_path.read_text(errors="replace")
        page = browser.submit("cats", "dogs")
        assert "cats es dogs" in browser.wait_until_recorded(page)
        started = psutil.Process(run.pid).children(recursive=True)

        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)

        log = log_path.read_text(errors="replace")
        assert "SIGINT received" in log
        assert "web.1 stopped (rc=0)" in log and "worker.1 stopped (rc=0)" in log, log
        assert "Warm shutdown" in log and "Shutting down: Master" in log, log
        for sign in FAILURE_SIGNS:
            assert sign not in log, f"{sign!r} in the log of make run:\n{log}"
        # make itself dies of the Ctrl-C it was sent, as any command does, without a word.
        assert run.returncode == -signal.SIGINT
        assert not [process for process in started if process.is_running() and process.status() != "zombie"]
        assert (tmp_path / "results" / "results.txt").read_text() == "cats es dogs\n"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
        for process in started:
            if process.is_running():
                process.kill()
        if transport == "rabbitmq":
            delete_queue(RABBITMQ_URL, queue)


def test_make_manage_reads_the_env_file_so_collect_results_finds_a_late_result(make_stack, tmp_path):
    stack = make_stack("rabbitmq", RESULT_TIMEOUT="1")
    stack.start_web()
    browser = HttpClient(stack.base_url)
    page = browser.submit("late", "cats")
    assert "Pending" in page.text
    stack.start_worker()
    configured = write_env_file(
        tmp_path / "env",
        **{
            name: stack.env[name]
            for name in (
                "DJANGO_DATABASE_PATH",
                "RESULTS_DIR",
                "CELERY_TASK_DEFAULT_QUEUE",
                "CELERY_BROKER_URL",
                "CELERY_RESULT_BACKEND",
            )
        },
    )
    unconfigured = write_env_file(
        tmp_path / "env-without-services",
        DJANGO_DATABASE_PATH=stack.env["DJANGO_DATABASE_PATH"],
        RESULTS_DIR=stack.env["RESULTS_DIR"],
        EMBEDDED_BROKER_DIR=tmp_path / "embedded-broker",
    )

    without = make("manage", f"ENV_FILE={unconfigured}", "ARGS=collect_results", env=clean_environment())
    collected = wait_until(
        lambda: (
            "done: 1"
            in (
                done := make("manage", f"ENV_FILE={configured}", "ARGS=collect_results", env=clean_environment())
            ).stdout
            and done
        ),
        timeout=60,
        interval=1,
        what="collect_results recording the late result",
    )

    assert without.returncode == 0, without.stderr
    assert without.stdout.strip() == "done: 0, failed: 0, still pending: 1, sent again: 0"
    assert "CELERY_BROKER_URL and CELERY_RESULT_BACKEND not set, so the embedded one" in without.stderr
    assert collected.returncode == 0, collected.stderr
    assert collected.stdout.strip() == "done: 1, failed: 0, still pending: 0, sent again: 0"
    assert "Broker amqp://django:**@127.0.0.1:5672/rabbit" in collected.stderr
    assert "not set" not in collected.stderr
    assert stack.results_lines() == ["late es cats"]


def test_make_bench_writes_its_run_where_git_ignores_it():
    plan = make("-n", "bench", env=clean_environment())
    folders = {
        line.split("BENCH_RESULTS_DIR=", 1)[1].split()[0]
        for line in plan.stdout.splitlines()
        if "BENCH_RESULTS_DIR=" in line
    }

    assert plan.returncode == 0, plan.stderr
    assert len(folders) == 1
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", os.path.join(folders.pop(), "bench.md")],
        cwd=REPO_DIR,
        timeout=30,
    )
    assert ignored.returncode == 0, "make bench writes into files git tracks"


def waiting_messages(queue: str) -> int:
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        return amqp_channel(connection).queue_declare(queue, passive=True).message_count


def test_make_purge_drops_the_messages_waiting_in_the_env_files_queue(real_services, tmp_path):
    queue = f"e2e-make-purge-{free_port()}"
    env_file = write_env_file(
        tmp_path / "env",
        CELERY_BROKER_URL=RABBITMQ_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        CELERY_TASK_DEFAULT_QUEUE=queue,
    )
    declare_queue(RABBITMQ_URL, queue)
    try:
        for number in range(3):
            publish_raw(
                RABBITMQ_URL,
                queue,
                b'[["a", "b"], {}, {}]',
                "application/json",
                {"task": "adding_taski", "id": f"purge-{number}"},
            )
        wait_until(lambda: waiting_messages(queue) == 3, timeout=10, what="three messages queued")

        purged = make("purge", f"ENV_FILE={env_file}", env=clean_environment())

        assert purged.returncode == 0, purged.stderr
        assert "Purged 3 messages" in purged.stdout
        assert waiting_messages(queue) == 0
    finally:
        delete_queue(RABBITMQ_URL, queue)
