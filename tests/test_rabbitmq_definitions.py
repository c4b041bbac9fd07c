"""rabbitmq/definitions.json, which the rabbitmq container loads at boot: the one user and vhost the projects use."""

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
DEFINITIONS_FILE = REPO_DIR / "rabbitmq" / "definitions.json"
# The vhost `rabbit`, the user `django` with password django and the management tag, all
# permissions on `rabbit` and on nothing else.
USER, PASSWORD, VHOST, TAGS = "django", "django", "rabbit", ["management"]
ALL = ".*"


@pytest.fixture(scope="module")
def definitions():
    return json.loads(DEFINITIONS_FILE.read_text())


def tags_of(user: dict) -> list[str]:
    """A user's tags; RabbitMQ accepts a list or a comma-separated string."""
    tags = user["tags"]
    return sorted(tags.split(",") if isinstance(tags, str) else tags)


def sha256_password_matches(password_hash: str, password: str) -> bool:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    decoded = base64.b64decode(password_hash)
    salt, digest = decoded[:4], decoded[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def test_the_example_configuration_logs_in_as_the_definitions_user():
    """.env.example's broker URL (what `cp .env.example .env` gives) names the user, password and vhost defined."""
    lines = (REPO_DIR / ".env.example").read_text().splitlines()
    broker_url = next(line.split("=", 1)[1] for line in lines if line.startswith("CELERY_BROKER_URL="))
    url = urlparse(broker_url)
    assert (url.username, url.password, url.path.lstrip("/")) == (USER, PASSWORD, VHOST)


def test_one_user_django_and_no_guest(definitions):
    names = [user["name"] for user in definitions["users"]]
    assert names == [USER]
    assert "guest" not in names


def test_django_has_the_management_tag_and_the_documented_password(definitions):
    (user,) = definitions["users"]
    assert tags_of(user) == TAGS
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert sha256_password_matches(user["password_hash"], PASSWORD)
    assert not sha256_password_matches(user["password_hash"], "guest")


def test_vhost_rabbit_is_the_only_vhost(definitions):
    assert [vhost["name"] for vhost in definitions["vhosts"]] == [VHOST]


def test_django_has_all_permissions_on_rabbit_and_nothing_else(definitions):
    assert definitions["permissions"] == [{"user": USER, "vhost": VHOST, "configure": ALL, "write": ALL, "read": ALL}]
    assert definitions.get("topic_permissions", []) == []


def test_sha256_check_tells_passwords_apart():
    salt = b"\x01\x02\x03\x04"
    known = base64.b64encode(salt + hashlib.sha256(salt + b"secret").digest()).decode()
    assert sha256_password_matches(known, "secret")
    assert not sha256_password_matches(known, "Secret")


CONFIG_FILE = REPO_DIR / "rabbitmq" / "rabbitmq.conf"


def test_every_queue_of_the_vhost_is_bound_by_a_policy(definitions):
    policies = {policy["name"]: policy for policy in definitions["policies"]}
    assert set(policies) == {"task-queue-bound", "internal-queue-bound"}
    assert policies["task-queue-bound"]["definition"] == {"max-length": 10000, "overflow": "reject-publish"}
    # Celery's event queues, workers' broadcast queues and reply queues: few messages, short-lived.
    assert policies["internal-queue-bound"]["pattern"] == r"^celeryev\.|\.pidbox$"
    assert policies["internal-queue-bound"]["definition"] == {
        "expires": 600000,
        "max-length": 1000,
        "message-ttl": 300000,
    }
    assert {policy["apply-to"] for policy in policies.values()} == {"queues"}


def test_the_node_refuses_messages_over_64_kib():
    lines = [line.split("=", 1) for line in CONFIG_FILE.read_text().splitlines() if line.startswith("max_message_size")]
    assert [(name.strip(), int(value)) for name, value in lines] == [("max_message_size", 65536)]
