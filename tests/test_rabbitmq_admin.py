"""rabbitmq/setup-rabbitmq.sh against the machine's RabbitMQ, with a fresh user and vhost.

Needs rabbitmqctl with access to the local node (root here, as in CI). Without it the
tests are skipped, except with CI=true, where they fail.
"""

import json
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import amqp.exceptions
import pytest
from kombu import Connection

from harness.external_services import amqp_channel, unavailable

REPO_DIR = Path(__file__).resolve().parent.parent
SCRIPT = REPO_DIR / "rabbitmq" / "setup-rabbitmq.sh"
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
SCRIPT_TIMEOUT = 120
RABBITMQCTL_TIMEOUT = 60
AMQP_TIMEOUT = 5
# Words the script prints only when it changed something.
CHANGE_WORDS = (": created", ": password changed", ": set (")


def rabbitmqctl(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["rabbitmqctl", "--quiet", *arguments],
        capture_output=True,
        text=True,
        timeout=RABBITMQCTL_TIMEOUT,
        check=check,
    )


@pytest.fixture(scope="module")
def local_rabbitmq():
    """The local node, reachable both by rabbitmqctl and on the AMQP port."""
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl", "not installed")
    try:
        status = rabbitmqctl("await_startup", "--timeout", "10", check=False)
    except subprocess.TimeoutExpired:
        unavailable("rabbitmqctl", "no answer in time")
    if status.returncode != 0:
        unavailable("rabbitmqctl", f"cannot reach the local node: {status.stderr.strip()[:300]}")
    try:
        with socket.create_connection((AMQP_HOST, AMQP_PORT), timeout=AMQP_TIMEOUT):
            pass
    except OSError as error:
        unavailable("RabbitMQ", f"no AMQP on {AMQP_HOST}:{AMQP_PORT}: {error}")


@pytest.fixture
def fresh_account(local_rabbitmq):
    """A user, password and vhost that exist nowhere yet; both are deleted afterwards."""
    token = uuid.uuid4().hex[:12]
    account = {"user": f"setup-test-{token}", "password": f"pw-{uuid.uuid4().hex}", "vhost": f"setup-test-{token}"}
    yield account
    rabbitmqctl("delete_user", account["user"], check=False)
    rabbitmqctl("delete_vhost", account["vhost"], check=False)


def run_script(*arguments: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    # The script's own fallbacks must not be fed by whatever the caller's shell exports.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
    env.update(environment or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
        timeout=SCRIPT_TIMEOUT,
    )


def state_of(account: dict) -> dict:
    """Everything RabbitMQ holds about the account, password hash included."""
    exported = json.loads(rabbitmqctl("export_definitions", "-").stdout)
    return {
        "users": [user for user in exported["users"] if user["name"] == account["user"]],
        "vhosts": [vhost for vhost in exported["vhosts"] if vhost["name"] == account["vhost"]],
        "permissions": [
            permission
            for permission in exported["permissions"]
            if account["user"] == permission["user"] or account["vhost"] == permission["vhost"]
        ],
        "list_users": rabbitmqctl("list_users").stdout,
        "list_permissions": rabbitmqctl("list_permissions", "-p", account["vhost"]).stdout,
    }


def authenticates(user: str, password: str) -> bool:
    return rabbitmqctl("authenticate_user", user, password, check=False).returncode == 0


def amqp_url(user: str, password: str, vhost: str) -> str:
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{AMQP_HOST}:{AMQP_PORT}/{quote(vhost, safe='')}"


def assert_changed_nothing(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    assert not any(word in result.stdout for word in CHANGE_WORDS), result.stdout


def test_creates_the_account_and_a_second_run_changes_nothing(fresh_account):
    user, password, vhost = fresh_account["user"], fresh_account["password"], fresh_account["vhost"]

    first = run_script(user, password, vhost)
    assert first.returncode == 0, first.stderr
    assert f"vhost {vhost}: created" in first.stdout
    assert f"user {user}: created" in first.stdout
    created = state_of(fresh_account)
    assert [u["tags"] for u in created["users"]] == [["management"]]
    assert [(p["user"], p["vhost"], p["configure"], p["write"], p["read"]) for p in created["permissions"]] == [
        (user, vhost, ".*", ".*", ".*")
    ]
    assert authenticates(user, password)

    second = run_script(user, password, vhost)
    assert_changed_nothing(second)
    assert state_of(fresh_account) == created

    from_environment = run_script(
        environment={"RABBITMQ_USER": user, "RABBITMQ_PASSWORD": password, "RABBITMQ_VHOST": vhost}
    )
    assert_changed_nothing(from_environment)
    assert f"user {user}:" in from_environment.stdout
    assert state_of(fresh_account) == created


def test_the_account_carries_messages_through_its_vhost_only(fresh_account):
    user, password, vhost = fresh_account["user"], fresh_account["password"], fresh_account["vhost"]
    assert run_script(user, password, vhost).returncode == 0
    body = {"sent": uuid.uuid4().hex}

    with Connection(amqp_url(user, password, vhost), connect_timeout=AMQP_TIMEOUT) as connection:
        queue = connection.SimpleQueue(f"setup-test-{uuid.uuid4().hex[:8]}")
        try:
            queue.put(body)
            message = queue.get(block=True, timeout=AMQP_TIMEOUT)
            message.ack()
            assert message.payload == body
        finally:
            queue.close()

    with (
        pytest.raises((amqp.exceptions.NotAllowed, amqp.exceptions.AccessRefused)),
        Connection(amqp_url(user, password, "/"), connect_timeout=AMQP_TIMEOUT) as connection,
    ):
        connection.connect()


def test_a_new_password_replaces_the_old_one(fresh_account):
    user, password, vhost = fresh_account["user"], fresh_account["password"], fresh_account["vhost"]
    assert run_script(user, password, vhost).returncode == 0
    new_password = f"pw-{uuid.uuid4().hex}"

    changed = run_script(user, new_password, vhost)
    assert changed.returncode == 0, changed.stderr
    assert f"user {user}: password changed" in changed.stdout
    assert authenticates(user, new_password)
    assert not authenticates(user, password)
    assert_changed_nothing(run_script(user, new_password, vhost))


def test_without_arguments_it_prepares_the_documented_account(local_rabbitmq):
    result = run_script()
    assert result.returncode == 0, result.stderr
    assert "vhost rabbit:" in result.stdout
    assert "user django:" in result.stdout
    assert authenticates("django", "django")
    assert_changed_nothing(run_script())


def test_refuses_extra_arguments():
    result = run_script("user", "password", "vhost", "surplus")
    assert result.returncode == 2
    assert "usage:" in result.stderr


DEFINITIONS_FILE = REPO_DIR / "rabbitmq" / "definitions.json"


def test_the_policies_are_those_of_definitions_json_and_bound_every_queue_celery_declares(fresh_account):
    user, password, vhost = fresh_account["user"], fresh_account["password"], fresh_account["vhost"]
    assert run_script(user, password, vhost).returncode == 0

    listed = json.loads(rabbitmqctl("list_policies", "-p", vhost, "--formatter", "json").stdout)
    policies = {policy["name"]: policy for policy in listed}
    for wanted in json.loads(DEFINITIONS_FILE.read_text())["policies"]:
        policy = policies[wanted["name"]]
        assert (policy["pattern"], policy["apply-to"]) == (wanted["pattern"], wanted["apply-to"])
        assert json.loads(policy["definition"]) == wanted["definition"]

    # Named as Celery names them: the task queue, a worker's broadcast queue, a reply queue, an event queue.
    queues = {
        "celery": "task-queue-bound",
        "worker1@host.celery.pidbox": "internal-queue-bound",
        "2f1c4b9e-reply.reply.celery.pidbox": "internal-queue-bound",
        "celeryev.2f1c4b9e": "internal-queue-bound",
    }
    with Connection(amqp_url(user, password, vhost), connect_timeout=AMQP_TIMEOUT) as connection:
        for name in queues:
            amqp_channel(connection).queue_declare(name, durable=name == "celery", auto_delete=name != "celery")
        listing = rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers", "name", "policy").stdout
    applied = dict(line.split("\t") for line in listing.splitlines())
    assert applied == queues
