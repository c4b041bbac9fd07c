"""bin/test-services, the step `make test` and CI run first: it starts what is down, changes nothing
when all is up, and names what is missing where it cannot install it.

The first test stops the machine's RabbitMQ, Redis and PostgreSQL for a few seconds (root only).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis

from harness.external_services import POSTGRES_URL, rabbitmq_running, reachable, unavailable
from harness.processes import RABBITMQ_URL, REDIS_URL, wait_until

REPO_DIR = Path(__file__).resolve().parent.parent
SCRIPT = REPO_DIR / "bin" / "test-services"
# Starting RabbitMQ, Redis and PostgreSQL from cold, and the rabbitmqctl calls.
SCRIPT_TIMEOUT = 300
STOP_TIMEOUT = 60


def run_script(*command_prefix: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command_prefix, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        env=env,
    )


@pytest.fixture
def as_root():
    if os.geteuid() != 0:
        unavailable("root", "the step starts the machine's services")


def stop_rabbitmq():
    """Stop the whole node, as a machine that has not started it yet has it."""
    subprocess.run(["rabbitmqctl", "-q", "stop"], check=True, capture_output=True, timeout=STOP_TIMEOUT)
    wait_until(lambda: not reachable(RABBITMQ_URL), timeout=STOP_TIMEOUT, what="RabbitMQ stopped")


def stop_redis():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    # It closes the connection as it exits.
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    wait_until(lambda: not reachable(REDIS_URL), timeout=STOP_TIMEOUT, what="Redis stopped")


def stop_postgresql():
    version = sorted(os.listdir("/etc/postgresql"), key=lambda name: [int(part) for part in name.split(".")])[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop"],
        check=True,
        timeout=STOP_TIMEOUT,
    )
    assert not reachable(POSTGRES_URL)


def test_stopped_services_are_started_again(as_root):
    stop_rabbitmq()
    stop_redis()
    stop_postgresql()
    try:
        completed = run_script()
    finally:
        # Whatever the step did, the rest of the run gets its services back.
        subprocess.run([str(SCRIPT)], capture_output=True, timeout=SCRIPT_TIMEOUT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "RabbitMQ is down; starting it" in completed.stdout
    assert "Redis is down; starting it" in completed.stdout
    assert "PostgreSQL is down; starting it" in completed.stdout
    assert rabbitmq_running()
    assert reachable(RABBITMQ_URL)
    assert reachable(REDIS_URL)
    assert reachable(POSTGRES_URL)
    assert redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()


def test_a_run_with_everything_up_changes_nothing(as_root):
    first = run_script()
    second = run_script()
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert second.stdout.splitlines() == [
        "test-services: RabbitMQ (vhost rabbit, user django), Redis, PostgreSQL and the test programs are ready"
    ]


@pytest.fixture
def readable_copy():
    """The script where an unprivileged user can run it: the checkout may sit in root's home."""
    copy = Path(tempfile.mkdtemp(prefix="test-services-copy-"))
    copy.chmod(0o755)
    (copy / "bin").mkdir(mode=0o755)
    shutil.copy(SCRIPT, copy / "bin" / "test-services")
    yield copy / "bin" / "test-services"
    shutil.rmtree(copy)


def run_as_nobody(script: Path, path: str) -> subprocess.CompletedProcess:
    runuser = shutil.which("runuser")
    if runuser is None:
        unavailable("runuser", "the step is run as an unprivileged user")
    return subprocess.run(
        [runuser, "-u", "nobody", "--", str(script)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        env={"PATH": path, "HOME": "/tmp"},
    )


def test_an_unprivileged_user_with_everything_up_is_told_what_it_could_not_check(as_root, readable_copy):
    completed = run_as_nobody(readable_copy, "/usr/local/bin:/usr/bin:/bin")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "the vhost rabbit and the user django are not checked (sudo bin/test-services prepares them)" in (
        completed.stdout
    )


@pytest.fixture
def path_without_chromium_and_docker_compose():
    """A PATH folder, readable by anyone, holding the machine's programs but Chromium and docker-compose."""
    folder = Path(tempfile.mkdtemp(prefix="test-services-path-"))
    folder.chmod(0o755)
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name in {"chromium", "docker-compose"} or (folder / name).exists():
                continue
            (folder / name).symlink_to(Path(directory) / name)
    yield folder
    shutil.rmtree(folder)


def test_where_it_cannot_install_it_names_each_missing_piece_and_its_command(
    as_root, readable_copy, path_without_chromium_and_docker_compose
):
    completed = run_as_nobody(readable_copy, str(path_without_chromium_and_docker_compose))

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert completed.stderr.splitlines()[1:3] == [
        "  Chromium, for the browser tests: apt-get install chromium (Debian) or brew install --cask chromium",
        "  docker-compose, which reads the compose files: apt-get install docker-compose (Debian) or brew install docker-compose",
    ]
    assert "make test needs what this machine lacks" in completed.stderr
    assert "make test-quick" in completed.stderr
