"""docker-compose.yml built, started and used for real: `make test-compose`.

The repository's files are copied to a folder of the test's own, and docker-compose runs
there, unchanged, under a project name of its own, with none of the user's settings: no
.env, no DJANGO_SECRET_KEY. Without DOCKER_HOST, a `podman system service` serves the
Docker API, on the local stand-ins of the official images (`make stand-in-images`).
The form is used through http://127.0.0.1:8000, the port the compose file publishes.
The tests share one deployment and run in this order; the last removes it.
"""

import os
import re
import socket
import stat
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from harness.processes import HttpClient, free_port, submit_concurrently, wait_until
from tests.containers import ComposeProject, container_engine, copy_tracked_files, require_compose_tools

pytestmark = pytest.mark.timeout(1800)

BASE_URL = "http://127.0.0.1:8000"
REPO_DIR = Path(__file__).resolve().parent.parent
STACK = {"rabbitmq": 1, "redis": 1, "postgres": 1, "web": 1, "collector": 1, "worker": 1}
# The app user's uid, and a second normal user's whose folder app does not own.
APP_UID = 1000
OTHER_UID = 4321


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    require_compose_tools("the compose file")
    assert not port_in_use(8000), "127.0.0.1:8000, the port the compose file publishes, is taken"

    directory = tmp_path_factory.mktemp("compose") / "project"
    copy_tracked_files(directory)
    name = f"djrc-test-{uuid.uuid4().hex[:8]}"
    with container_engine(name) as docker_host:
        project = ComposeProject(directory, name, docker_host)
        try:
            project.build_and_start(STACK)
            yield project
        finally:
            project.down()


def rabbitmq_queue(project: ComposeProject, column: str) -> int:
    """A column (messages, consumers) of the `celery` queue of the vhost rabbit."""
    listing = project.exec("rabbitmq", "rabbitmqctl", "--quiet", "list_queues", "-p", "rabbit", "name", column)
    match = re.search(r"^celery\s+(\d+)\s*$", listing, flags=re.MULTILINE)
    return int(match.group(1)) if match else -1


def submissions_in_database(project: ComposeProject) -> int:
    [[count]] = project.psql("SELECT count(*) FROM submissions_submission")
    return int(count)


def test_a_submission_goes_through_the_stack_to_the_host_results_folder_of_root(deployment):
    results = deployment.directory / "results"
    assert results.stat().st_uid == os.geteuid() == 0, "the test runs as root, like a root host user"

    page = HttpClient(BASE_URL).submit("cats", "dogs")

    assert page.status_code == 200
    assert "cats es dogs" in page.text
    assert deployment.results_lines() == ["cats es dogs"]
    assert deployment.results_file.stat().st_uid == APP_UID, "written by the non-root app user"
    assert results.stat().st_uid == 0, "the folder stays root's"


def test_the_web_processes_run_as_the_app_user(deployment):
    # Every process but the container's init (pid 1) and this probe: gunicorn's.
    processes = deployment.exec(
        "web",
        "python",
        "-c",
        "import os\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) not in (1, os.getpid()):\n"
        "        status = open(f'/proc/{pid}/status').read()\n"
        "        print(status.split('Uid:')[1].split()[0], open(f'/proc/{pid}/comm').read().strip())\n",
    ).splitlines()
    assert len(processes) >= 2, "gunicorn's arbiter and its workers"
    assert {line.split()[0] for line in processes} == {str(APP_UID)}, processes


def test_web_and_worker_each_generate_a_secret_key_of_their_own(deployment):
    web_key = deployment.exec("web", "cat", "/app/secret/django-secret-key", user="app")
    collector_key = deployment.exec("collector", "cat", "/app/secret/django-secret-key", user="app")
    worker_key = deployment.exec("worker", "cat", "/app/secret/django-secret-key", user="app")
    assert len(web_key) >= 50 and len(worker_key) >= 50
    assert web_key == collector_key
    assert worker_key != web_key, "the worker never holds the key that signs the web's cookies"


def test_redis_refuses_a_client_without_the_password(deployment):
    refused = deployment.exec("redis", "env", "-u", "REDISCLI_AUTH", "redis-cli", "set", "planted", "x")
    wrong = deployment.exec("redis", "env", "REDISCLI_AUTH=wrong", "redis-cli", "ping")
    assert "NOAUTH" in refused
    assert "NOAUTH" in wrong, "a wrong password authenticates nothing"
    assert deployment.exec("redis", "redis-cli", "config", "get", "maxmemory-policy").split() == [
        "maxmemory-policy",
        "noeviction",
    ]


# Each process of a container: its name, uid, effective capabilities and no_new_privs flag.
PROCESS_STATUS = (
    "for f in /proc/[0-9]*/status; do "
    'awk \'/^(Name|Uid|CapEff|NoNewPrivs):/ { printf "%s ", $2 } END { print "" }\' "$f"; done'
)
# Root processes of the images built here: the init of `init: true`, and this probe.
ROOT_PROCESSES = {"catatonit", "podman-init", "docker-init", "tini", "sh", "awk", "mawk"}


def test_every_container_runs_without_capabilities_as_a_user_of_its_own(deployment):
    for service in STACK:
        processes = [line.split() for line in deployment.exec(service, "sh", "-c", PROCESS_STATUS).splitlines()]
        processes = [process for process in processes if len(process) == 4]
        assert processes, service
        for name, uid, effective, no_new_privs in processes:
            assert no_new_privs == "1", (service, name)
            if uid != "0":
                assert effective == "0000000000000000", (service, name, effective)
            else:
                assert "build" in deployment_services()[service] and name in ROOT_PROCESSES, (service, name)
        assert any(uid != "0" for _, uid, _, _ in processes), f"{service}'s own processes run as its user"


def deployment_services() -> dict:
    return yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())["services"]


def test_three_workers_consume_the_one_queue_and_write_each_result_once(deployment):
    deployment.run("up", "--detach", "--scale", "worker=3", "--no-recreate", timeout=300)
    deployment.wait_healthy({**STACK, "worker": 3})
    wait_until(lambda: rabbitmq_queue(deployment, "consumers") == 3, 60, interval=1, what="3 consumers")
    pairs = [(f"scaled{number}", "dogs") for number in range(9)]

    pages = submit_concurrently(BASE_URL, pairs, clients=3)

    for (first, second), page in zip(pairs, pages, strict=False):
        assert f"{first} es {second}" in page.text
    expected = ["cats es dogs", *(f"{first} es {second}" for first, second in pairs)]
    assert sorted(deployment.results_lines()) == sorted(expected)


def test_queued_submissions_survive_a_rabbitmq_restart_and_are_written_once(deployment):
    deployment.run("stop", "worker", timeout=300)
    before = deployment.results_lines()
    pairs = [(f"queued{number}", "cats") for number in range(3)]

    pages = submit_concurrently(BASE_URL, pairs, clients=3)

    assert all("Pending" in page.text for page in pages)
    wait_until(lambda: rabbitmq_queue(deployment, "messages") == 3, 60, interval=1, what="3 queued")
    deployment.run("restart", "rabbitmq", timeout=300)
    deployment.wait_healthy({"rabbitmq": 1})
    assert rabbitmq_queue(deployment, "messages") == 3, "persistent messages kept on the volume"

    deployment.run("start", "worker", timeout=300)
    deployment.wait_healthy({"worker": 3})
    browser = HttpClient(BASE_URL)
    for (first, second), page in zip(pairs, pages, strict=False):
        assert f"{first} es {second}" in browser.wait_until_recorded(page, timeout=120)
    assert sorted(deployment.results_lines()) == sorted([*before, *(f"{a} es {b}" for a, b in pairs)])


def test_down_then_up_keeps_the_submissions_the_key_and_so_the_visitors_sessions(deployment):
    assert submissions_in_database(deployment) == 13
    visitor = HttpClient(BASE_URL)
    page = visitor.submit("before", "restart")
    assert "before es restart" in page.text
    submissions = submissions_in_database(deployment)
    key = deployment.exec("web", "cat", "/app/secret/django-secret-key", user="app")

    deployment.run("down", "--timeout", "30", timeout=300)
    deployment.run("up", "--detach", timeout=600)
    deployment.wait_healthy(STACK)

    assert submissions_in_database(deployment) == submissions
    assert deployment.exec("web", "cat", "/app/secret/django-secret-key", user="app") == key
    # The session is in the kept database, signed with the kept key: the visitor still has their submission.
    assert "before es restart" in visitor.get(visitor.path_of(page)).text
    assert "before es restart" in visitor.get("/").text


# Open file descriptors of the web container's gunicorn processes (every process but its init and this probe).
WEB_OPEN_FILES = (
    "import os\n"
    "print(sum(len(os.listdir(f'/proc/{pid}/fd')) for pid in os.listdir('/proc')\n"
    "          if pid.isdigit() and int(pid) not in (1, os.getpid())))\n"
)
# What the web container and Redis may hold more after the run than after the warm-up.
MAX_MORE_OPEN_FILES = 24
MAX_MORE_REDIS_CLIENTS = 6


def web_open_files(project: ComposeProject) -> int:
    return int(project.exec("web", "python", "-c", WEB_OPEN_FILES, user="app"))


def redis_clients_of(project: ComposeProject) -> int:
    info = project.exec("redis", "redis-cli", "info", "clients")
    match = re.search(r"^connected_clients:(\d+)", info, flags=re.MULTILINE)
    assert match is not None, info
    return int(match.group(1))


def test_hundreds_of_submissions_leave_the_web_container_and_redis_holding_what_they_held(deployment):
    warm_up = submit_concurrently(BASE_URL, [(f"warm{number}", "dogs") for number in range(60)], clients=8)
    assert all(page.status_code == 200 for page in warm_up)
    files_before, clients_before = web_open_files(deployment), redis_clients_of(deployment)

    pages = submit_concurrently(BASE_URL, [(f"run{number}", "dogs") for number in range(300)], clients=8)

    assert [page.status_code for page in pages] == [200] * 300
    assert all(f"run{number} es dogs" in page.text for number, page in enumerate(pages))
    wait_until(
        lambda: web_open_files(deployment) <= files_before + MAX_MORE_OPEN_FILES,
        timeout=15,
        interval=1,
        what=f"the web container's open files back near {files_before}",
    )
    assert redis_clients_of(deployment) <= clients_before + MAX_MORE_REDIS_CLIENTS


@pytest.mark.parametrize("owner", [APP_UID, OTHER_UID], ids=["app-user", "other-user"])
def test_the_web_writes_results_into_a_host_folder_of_a_normal_user(deployment, owner):
    results = deployment.directory / "results"
    deployment.results_file.unlink(missing_ok=True)
    os.chown(results, owner, owner)
    results.chmod(0o755)
    deployment.run("restart", "web", timeout=300)
    deployment.wait_healthy({"web": 1})

    page = HttpClient(BASE_URL).submit(f"user{owner}", "dogs")

    assert f"user{owner} es dogs" in page.text
    assert deployment.results_lines() == [f"user{owner} es dogs"]
    assert results.stat().st_uid == owner, "the folder keeps its owner"
    assert deployment.results_file.stat().st_uid == APP_UID
    assert not results.stat().st_mode & stat.S_IWOTH, "never opened to everyone"


def test_flower_answers_with_its_credentials_and_refuses_without(deployment):
    port = free_port()
    settings = {"FLOWER_BASIC_AUTH": "admin:compose-test-password", "FLOWER_HOST_PORT": str(port)}
    deployment.run("--profile", "monitoring", "up", "--detach", "--no-deps", "flower", env=settings, timeout=300)
    url = f"http://127.0.0.1:{port}/"

    def status_without_credentials():
        try:
            return requests.get(url, timeout=5).status_code
        except requests.RequestException:
            return None

    refused = wait_until(status_without_credentials, 120, interval=1, what="Flower answering")
    allowed = requests.get(url, auth=("admin", "compose-test-password"), timeout=10)
    wrong = requests.get(url, auth=("admin", "wrong"), timeout=10)

    assert refused == 401
    assert wrong.status_code == 401
    assert allowed.status_code == 200


def test_flower_without_credentials_stops_with_its_reason(deployment):
    deployment.run("--profile", "monitoring", "rm", "--stop", "--force", "flower", timeout=120)
    deployment.run("--profile", "monitoring", "up", "--detach", "--no-deps", "flower", timeout=300)
    [flower] = deployment.containers("flower", all_states=True)

    # on-failure:3 in the compose file: three restarts, then it stays stopped.
    wait_until(lambda: deployment.state(flower) == ("exited", 3), 120, interval=1, what="Flower given up")

    assert "FLOWER_BASIC_AUTH is not set" in deployment.run("logs", "flower", timeout=60)


def test_building_for_uid_0_is_refused_with_its_reason(deployment):
    build = deployment.attempt("build", "web", env={"APP_UID": "0"}, timeout=600)

    assert build.returncode != 0
    assert "APP_UID=0: the app runs as a user of its own" in build.stdout + build.stderr


def test_down_with_volumes_leaves_nothing_behind(deployment):
    deployment.down()

    assert deployment.leftovers() == {"containers": [], "volumes": [], "networks": []}
