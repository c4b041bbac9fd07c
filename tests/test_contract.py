"""The two projects agree on the contract: the message web_app sends names a task the
worker registers, with arguments that task's signature accepts.

Each project runs in its own process, since one process holds one Django settings module.
"""

import ast
import json
import subprocess
import sys
import textwrap

from harness.processes import WEB_DIR, WORKER_DIR

SEND_ONE_SUBMISSION = textwrap.dedent(
    """
    import base64, json, pathlib, django
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from submissions import services
    call_command("migrate", verbosity=0)
    services.submission_create(first="cats", second="dogs")
    [message_file] = (settings.EMBEDDED_BROKER_DIR / "queue").glob("*.msg")
    message = json.loads(message_file.read_text())
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    expected = services.expected_result(*args)
    print(json.dumps({"task": message["headers"]["task"], "args": args, "kwargs": kwargs, "expected": expected}))
    """
)

CHECK_CALL = textwrap.dedent(
    """
    import inspect, json, sys, django
    django.setup()
    from rabbitmq_celery.celery import app
    app.loader.import_default_modules()
    call = json.loads(sys.stdin.read())
    task = app.tasks[call["task"]]
    inspect.signature(task.run).bind(*call["args"], **call["kwargs"])
    print(json.dumps({"registered": call["task"], "returns": task(*call["args"], **call["kwargs"])}))
    """
)


def run_in_project(project_dir, settings_module, code, tmp_path, stdin=""):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_SECRET_KEY": "contract-test",
        "DJANGO_DATABASE_PATH": str(tmp_path / f"{project_dir.name}.sqlite3"),
        "EMBEDDED_BROKER_DIR": str(tmp_path / "embedded-broker"),
        "RESULTS_DIR": str(tmp_path / "results"),
    }
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project_dir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_task_web_app_sends_is_one_the_worker_registers_with_that_arity(tmp_path):
    sent = run_in_project(WEB_DIR, "web_app.settings", SEND_ONE_SUBMISSION, tmp_path)
    expected = sent.pop("expected")
    assert sent == {"task": "adding_taski", "args": ["cats", "dogs"], "kwargs": {}}

    received = run_in_project(WORKER_DIR, "rabbitmq_celery.settings", CHECK_CALL, tmp_path, json.dumps(sent))
    # The web app records only the result it expects, and refuses any other.
    assert received == {"registered": "adding_taski", "returns": expected}
    assert expected == "cats es dogs"


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_web_app_imports_no_code_from_the_worker_project():
    worker_packages = {path.parent.name for path in WORKER_DIR.glob("*/__init__.py")}
    assert {"rabbitmq_celery", "adding"} <= worker_packages
    imports = {module.split(".")[0] for path in WEB_DIR.rglob("*.py") for module in imported_modules(path)}
    assert "celery" in imports
    assert imports & worker_packages == set()


# The rules the worker checks its arguments by, copied from the form's: the worker cannot import web_app.
INPUT_RULES = ("MAX_LENGTH", "LINE_BREAKING_CATEGORIES", "BIDI_CONTROLS")


def input_rules(module) -> dict:
    """The values the module assigns to INPUT_RULES, read from its source."""
    rules = {}
    for node in ast.parse(module.read_text()).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        [target] = node.targets
        if isinstance(target, ast.Name) and target.id in INPUT_RULES:
            rules[target.id] = eval(compile(ast.Expression(node.value), str(module), "eval"))  # noqa: S307
    return rules


def test_the_worker_checks_its_arguments_by_the_forms_rules():
    form_rules = input_rules(WEB_DIR / "submissions" / "forms.py")
    worker_rules = input_rules(WORKER_DIR / "adding" / "services.py")

    assert set(form_rules) == set(INPUT_RULES)
    assert worker_rules == form_rules
