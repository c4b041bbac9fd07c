"""Flower as the Procfile starts it: on 127.0.0.1 only, behind basic auth from the environment."""

import json
import subprocess

import pytest
import requests

from harness.processes import REPO_DIR, free_port, wait_until

START_FLOWER = REPO_DIR / "rabbitmq_celery" / "bin" / "start-flower"


def test_flower_refuses_to_start_without_basic_auth(make_stack):
    stack = make_stack("embedded")
    env = {**stack.env}
    env.pop("FLOWER_BASIC_AUTH", None)

    finished = subprocess.run([START_FLOWER], env=env, capture_output=True, text=True, timeout=30)

    assert finished.returncode != 0
    assert "FLOWER_BASIC_AUTH" in finished.stderr


@pytest.mark.parametrize(
    "value",
    [
        "admin:s3cret,",
        "admin:",
        ":",
        ",",
        "admin",
        ":s3cret",
        ",admin:s3cret",
        "admin:s3cret,,ops:pw",
        "admin:s3cret,ops:",
    ],
)
def test_flower_refuses_to_start_with_an_empty_user_or_password(make_stack, value):
    stack = make_stack("embedded")
    env = {**stack.env, "FLOWER_BASIC_AUTH": value, "FLOWER_PORT": str(free_port())}

    finished = subprocess.run([START_FLOWER], env=env, capture_output=True, text=True, timeout=30)

    assert finished.returncode != 0
    assert "FLOWER_BASIC_AUTH has" in finished.stderr
    assert "user:password" in finished.stderr


def test_flower_asks_for_its_password_and_lists_the_worker(make_stack):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    port = free_port()
    flower = stack._start(
        "flower",
        [str(START_FLOWER)],
        REPO_DIR,
        {**stack.env, "FLOWER_BASIC_AUTH": "admin:s3cret", "FLOWER_PORT": str(port)},
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        flower.check_running()
        try:
            return requests.get(url + "/healthcheck", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(answers, timeout=30, interval=0.2, what="Flower answering")

    assert requests.get(url + "/", timeout=10).status_code == 401
    assert requests.get(url + "/", auth=("admin", "wrong"), timeout=10).status_code == 401
    assert requests.get(url + "/", auth=("", ""), timeout=10).status_code == 401
    workers = wait_until(
        lambda: (
            stack.queue in (text := requests.get(url + "/workers", auth=("admin", "s3cret"), timeout=10).text) and text
        ),
        timeout=30,
        interval=0.5,
        what="Flower listing the worker",
    )
    assert "Workers" in workers
    reported = requests.get(url + "/api/workers", params={"refresh": "1"}, auth=("admin", "s3cret"), timeout=60)
    ours = [info for name, info in reported.json().items() if name.startswith(stack.queue)]
    assert ours[0]["conf"]["CELERY_BROKER_URL"] == "amqp://django:********@127.0.0.1:5672/rabbit"
    assert "django:django@" not in json.dumps(ours), "no password in what Flower shows of the worker"
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10)
    local_addresses = {line.split()[3] for line in listening.stdout.splitlines()}
    assert local_addresses == {f"127.0.0.1:{port}"}
