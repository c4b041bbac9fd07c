"""Nobody let in: debug off, a required secret key, allowed hosts, security headers, secure cookies,
a RabbitMQ user held to its vhost, and no password in the logs.

The worker's refusal of pickle is proven in test_bad_input (a pickle message that would run code).
"""

import subprocess
import sys

import psutil
import pytest
import requests
from kombu import Connection

from harness.external_services import require
from harness.processes import (
    RABBITMQ_URL,
    VENV_BIN,
    WEB_COMMAND,
    WEB_DIR,
    WORKER_COMMAND,
    WORKER_DIR,
    HttpClient,
    free_port,
)

FOREIGN_HOST = "evil.example"


@pytest.fixture(scope="module")
def running_stack(make_module_stack):
    stack = make_module_stack(DJANGO_ALLOWED_HOSTS="127.0.0.1,web.example")
    worker = stack.start_worker()
    web = stack.start_web()
    HttpClient(stack.base_url).submit("secret", "cats")
    return stack, worker, web


def setting_of(project_dir, settings_module: str, name: str, env: dict) -> str:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print(settings.{name})",
        ],
        cwd=project_dir,
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


PROJECTS = [
    pytest.param(WEB_DIR, "web_app.settings", id="web_app"),
    pytest.param(WORKER_DIR, "rabbitmq_celery.settings", id="rabbitmq_celery"),
]


@pytest.mark.parametrize("project_dir, settings_module", PROJECTS)
def test_debug_is_off_unless_asked(make_stack, project_dir, settings_module):
    env = {k: v for k, v in make_stack().env.items() if k != "DJANGO_DEBUG"}

    assert setting_of(project_dir, settings_module, "DEBUG", env) == "False"
    assert setting_of(project_dir, settings_module, "DEBUG", {**env, "DJANGO_DEBUG": "true"}) == "True"


@pytest.mark.parametrize("debug", ["false", "true"])
@pytest.mark.parametrize(
    "command, cwd",
    [
        pytest.param(WEB_COMMAND, WEB_DIR, id="start-web"),
        pytest.param(WORKER_COMMAND, WORKER_DIR, id="worker"),
    ],
)
def test_a_missing_secret_key_stops_the_start_with_a_clear_message(make_stack, command, cwd, debug):
    env = {k: v for k, v in make_stack().env.items() if k != "DJANGO_SECRET_KEY"}

    completed = subprocess.run(
        command, cwd=cwd, env={**env, "DJANGO_DEBUG": debug}, capture_output=True, text=True, timeout=60
    )

    assert completed.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in completed.stdout + completed.stderr


def test_a_request_for_a_foreign_host_gets_400(running_stack):
    stack, _, _ = running_stack

    foreign = requests.get(stack.base_url + "/", headers={"Host": FOREIGN_HOST}, timeout=10)
    allowed = requests.get(stack.base_url + "/", headers={"Host": "web.example"}, timeout=10)

    assert foreign.status_code == 400
    assert allowed.status_code == 200


def test_pages_carry_the_security_headers_and_no_debug_details(running_stack):
    stack, _, _ = running_stack

    page = requests.get(stack.base_url + "/", timeout=10)
    missing = requests.get(stack.base_url + "/no-such-page/", timeout=10)

    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert missing.status_code == 404
    assert "URLconf" not in missing.text and "Traceback" not in missing.text, "no debug page"


def test_logs_show_connection_urls_with_the_password_masked(running_stack):
    _stack, worker, web = running_stack
    password_url = RABBITMQ_URL.split("@")[0].rsplit(":", 1)

    for process in (worker, web):
        log = process.log()
        assert "amqp://django:**@" in log, f"{process.name} says where it connects"
        assert f"{password_url[0]}:{password_url[1]}@" not in log, f"{process.name} log shows the password"


def test_with_secure_https_cookies_are_secure_and_hsts_is_sent_over_https(make_stack):
    stack = make_stack(DJANGO_BEHIND_HTTPS_PROXY="true")
    stack.start_web()
    browser = HttpClient(stack.base_url)
    https = {"X-Forwarded-Proto": "https"}

    plain = requests.get(stack.base_url + "/", timeout=10)
    secure = browser.get("/", headers=https)
    token = browser.session.cookies["csrftoken"]
    # The client is the TLS proxy's side of the connection: it passes the Secure cookie on.
    posted = requests.post(
        stack.base_url + "/",
        data={"csrfmiddlewaretoken": token, "first": "", "second": "x"},
        headers={
            **https,
            "Cookie": f"csrftoken={token}",
            "Origin": f"https://127.0.0.1:{stack.port}",
            "Referer": f"https://127.0.0.1:{stack.port}/",
        },
        timeout=10,
    )

    assert "secure" in secure.headers["Set-Cookie"].lower().split("; ")
    assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in plain.headers, "HSTS only on HTTPS answers"
    assert posted.status_code == 400, "the form still works over HTTPS (refusing this empty field)"


def test_the_django_rabbitmq_user_cannot_open_another_vhost():
    require(RABBITMQ_URL, "RabbitMQ")
    other_vhost = RABBITMQ_URL.rsplit("/", 1)[0] + "/"  # vhost "/"

    with pytest.raises(Exception) as refused, Connection(other_vhost, connect_timeout=5) as connection:
        connection.connect()

    assert "access to vhost '/' refused for user 'django'" in str(refused.value)
    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        connection.connect()


def test_gunicorn_opens_no_control_socket(make_stack):
    stack = make_stack("embedded")
    home, runtime = stack.root / "home", stack.root / "run"
    home.mkdir(), runtime.mkdir()
    web = stack.start_web(env={**stack.env, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)})

    master = psutil.Process(web.popen.pid)
    unix_sockets = [
        connection.laddr
        for process in (master, *master.children(recursive=True))
        for connection in process.net_connections(kind="unix")
        if connection.laddr
    ]

    assert unix_sockets == [], "gunicorn listens on no Unix socket"
    assert list(home.rglob("*.ctl")) == [] and list(runtime.rglob("*.ctl")) == []


@pytest.mark.parametrize("command", ["conf", "report"])
def test_the_worker_s_reported_configuration_masks_every_password(make_stack, command):
    # Nothing listens at this backend: the worker connects to it only to store a result.
    backend = f"redis://:backend-secret@127.0.0.1:{free_port()}/0"
    stack = make_stack("rabbitmq", CELERY_RESULT_BACKEND=backend)
    stack.start_worker("-n", f"{stack.queue}@conf")

    completed = subprocess.run(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "rabbitmq_celery",
            "inspect",
            command,
            "-d",
            f"{stack.queue}@conf",
            "--timeout",
            "10",
        ],
        cwd=WORKER_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    answer = completed.stdout
    assert completed.returncode == 0, completed.stderr
    assert "amqp://django:********@127.0.0.1:5672/rabbit" in answer
    assert "redis://:********@127.0.0.1" in answer
    assert "django:django@" not in answer and "backend-secret" not in answer
