from collections import Counter

import pytest

from harness.external_services import (
    POSTGRES_URL,
    SETUP_HINT,
    UNAVAILABLE_PREFIX,
    create_database,
    delete_queue,
    drop_database,
    require,
)
from harness.processes import RABBITMQ_URL, REDIS_URL, Stack

from .chromium import chromium, require_chromium
from .containers import FAILED_PHASES


@pytest.fixture
def real_services():
    """The local RabbitMQ (vhost rabbit, user django) and Redis."""
    require(RABBITMQ_URL, "RabbitMQ")
    require(REDIS_URL, "Redis")


class StackFactory:
    """Builds stacks of real processes under one folder, and stops them all at the end."""

    def __init__(self, root):
        self.root = root
        self.stacks = []
        self.databases = []

    def __call__(
        self, transport: str = "rabbitmq", database: str = "sqlite", kind: type[Stack] = Stack, **extra_env
    ) -> Stack:
        """A stack on RabbitMQ and Redis or the embedded broker, and on SQLite or PostgreSQL;
        `kind` is the project's Stack or one of the benchmark's (bench.stacks)."""
        if transport == "rabbitmq":
            require(RABBITMQ_URL, "RabbitMQ")
            require(REDIS_URL, "Redis")
        stack = kind(root=self.root / f"stack{len(self.stacks)}", transport=transport, extra_env=extra_env)
        if database == "postgresql":
            require(POSTGRES_URL, "PostgreSQL")
            # A database of the stack's own: parallel runs never share one.
            name = f"e2e_{stack.queue.replace('-', '_')}"
            stack.database_url = create_database(name)
            self.databases.append(name)
        stack.root.mkdir()
        self.stacks.append(stack)
        return stack

    def close(self):
        for stack in self.stacks:
            stack.stop_all()
            if stack.transport == "rabbitmq":
                delete_queue(RABBITMQ_URL, stack.queue)
        for name in self.databases:
            drop_database(name)


@pytest.fixture
def make_stack(tmp_path):
    """Build stacks of real processes; each is stopped at the end of the test."""
    factory = StackFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def make_module_stack(tmp_path_factory, request):
    """Build stacks that a module's tests share; each is stopped at the end of the module."""
    factory = StackFactory(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one for a module's tests."""
    require_chromium()
    with chromium() as running:
        yield running


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """One line after the other summaries, naming each service that tests were skipped for want of."""
    yield
    wanted: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(UNAVAILABLE_PREFIX):
            wanted[reason.removeprefix(UNAVAILABLE_PREFIX).partition(":")[0]] += 1
    if wanted:
        missing = ", ".join(f"{what} ({count} tests)" for what, count in wanted.most_common())
        terminalreporter.write_line(f"SKIPPED for want of {missing}: {SETUP_HINT} (as root on Debian)", yellow=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Count each test's failing phase in the config's stash (FAILED_PHASES), for fixtures that keep
    evidence when a test of theirs failed (pytest's documented way to give fixtures the results)."""
    report = yield
    if report.failed:
        item.config.stash[FAILED_PHASES] = item.config.stash.get(FAILED_PHASES, 0) + 1
    return report
