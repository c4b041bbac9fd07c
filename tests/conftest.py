import pytest

from .processes import RABBITMQ_URL, REDIS_URL, Browser, Stack
from .services import require


@pytest.fixture
def real_services():
    """The local RabbitMQ (vhost rabbit, user django) and Redis."""
    require(RABBITMQ_URL, "RabbitMQ")
    require(REDIS_URL, "Redis")


@pytest.fixture
def make_stack(tmp_path, request):
    """Build stacks of real processes; each is stopped at the end of the test."""
    stacks = []

    def make(transport: str = "rabbitmq", **extra_env) -> Stack:
        if transport == "rabbitmq":
            request.getfixturevalue("real_services")
        stack = Stack(root=tmp_path / f"stack{len(stacks)}", transport=transport, extra_env=extra_env)
        stack.root.mkdir()
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop_all()
        if stack.transport == "rabbitmq":
            delete_queue(stack.queue)


def delete_queue(name: str):
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        connection.default_channel.queue_delete(name)


@pytest.fixture
def browser_for():
    return Browser
