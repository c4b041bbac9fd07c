"""The README stays true to the code: its configuration table names every variable the projects read."""

import re

from harness.processes import REPO_DIR

# os.environ.get("NAME" or django-environ's env.str("NAME" in Python, ${NAME in the start scripts.
READS = re.compile(r'(?:os\.environ\.get|env\.[a-z_]+)\(\s*"([A-Z][A-Z0-9_]+)"|\$\{([A-Z][A-Z0-9_]+)')


def variables_read_by_the_code() -> set[str]:
    sources = [
        path
        for project in ("web_app", "rabbitmq_celery")
        for path in (REPO_DIR / project).rglob("*")
        if path.is_file()
        and "tests" not in path.relative_to(REPO_DIR).parts
        and (path.suffix == ".py" or path.parent.name == "bin")
    ]
    return {name for path in sources for match in READS.finditer(path.read_text()) for name in match.groups() if name}


def configuration_table() -> str:
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    return readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]


def test_the_configuration_table_lists_every_variable_the_code_reads():
    read = variables_read_by_the_code()
    table = configuration_table()

    assert {"DJANGO_SECRET_KEY", "GUNICORN_TIMEOUT", "FLOWER_PORT"} <= read, "the scan finds what it should"
    assert sorted(name for name in read if f"`{name}`" not in table) == []
