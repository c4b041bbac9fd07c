"""docker-compose.cluster.yml and the files it mounts, checked without a container engine (the nodes'
healthcheck script against the local RabbitMQ)."""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from harness.external_services import rabbitmqctl, unavailable

REPO_DIR = Path(__file__).resolve().parent.parent
CLUSTER_FILE = REPO_DIR / "docker-compose.cluster.yml"
HEALTHCHECK = REPO_DIR / "rabbitmq" / "cluster-healthcheck"
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
WEB_SERVERS = ("web-server-1", "web-server-2")
SENTINELS = ("redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3")
# What `config` is given for the variables the files require.
REQUIRED = {"REDIS_PASSWORD": "cluster-config-redis", "POSTGRES_PASSWORD": "cluster-config-postgres"}


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load(CLUSTER_FILE.read_text())["services"]


def test_each_node_has_its_hostname_volume_healthcheck_and_the_shared_cookie(services):
    main = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())["services"]
    hostnames = {
        node: services[node].get("hostname", main[node].get("hostname") if node in main else None) for node in NODES
    }
    assert hostnames == {node: node for node in NODES}
    data_volumes = {next(v for v in services[node]["volumes"] if v.endswith(":/var/lib/rabbitmq")) for node in NODES}
    assert len(data_volumes) == 3
    for node in NODES:
        assert services[node]["secrets"] == ["rabbitmq-erlang-cookie"]
        assert services[node]["healthcheck"]["test"] == ["CMD-SHELL", "/usr/local/bin/cluster-healthcheck"]
        assert "./rabbitmq/cluster-healthcheck:/usr/local/bin/cluster-healthcheck:ro" in services[node]["volumes"]


def run_healthcheck() -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(HEALTHCHECK)], capture_output=True, text=True, timeout=120)


def test_the_node_healthcheck_restarts_a_vhost_left_down_and_passes_once_it_runs(real_services):
    """The nodes' healthcheck script, run against the local RabbitMQ with a vhost of its own stopped."""
    vhost = f"healthcheck-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("eval", f'rabbit_vhost_sup_sup:stop_and_delete_vhost(<<"{vhost}">>).')
        with pytest.raises(subprocess.CalledProcessError, match="check_virtual_hosts"):
            subprocess.run(
                ["rabbitmq-diagnostics", "-q", "check_virtual_hosts"], capture_output=True, timeout=60, check=True
            )

        restarting = run_healthcheck()
        running = run_healthcheck()
    finally:
        rabbitmqctl("delete_vhost", vhost)

    assert restarting.returncode == 1, "unhealthy while its vhost was down"
    assert f"Successfully restarted vhost '{vhost}'" in restarting.stdout
    assert running.returncode == 0, running.stdout + running.stderr


def test_peer_discovery_lists_exactly_the_three_nodes():
    config = (REPO_DIR / "rabbitmq" / "cluster.conf").read_text()
    assert re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", config, re.MULTILINE) == [
        f"rabbit@{node}" for node in NODES
    ]


def test_every_client_reaches_the_nodes_through_the_broker_balancer_and_uses_a_quorum_queue(services):
    for service in (*WEB_SERVERS, "worker", "flower"):
        environment = services[service]["environment"]
        assert re.fullmatch(r"amqp://django:[^@]+@rabbitmq-lb:5672/rabbit", environment["CELERY_BROKER_URL"]), service
        assert environment["CELERY_TASK_DEFAULT_QUEUE_TYPE"] == "quorum", service
    config = (REPO_DIR / "haproxy" / "rabbitmq.cfg").read_text()
    assert re.findall(r"^\s*server ([\w-]+) \1:5672 check$", config, re.MULTILINE) == list(NODES)
    assert "on-marked-down shutdown-sessions" in config, "a lost node's clients are cut, so they reconnect at once"


def test_the_load_balancer_alone_publishes_port_8000_and_checks_the_web_servers(services):
    assert services["web"]["profiles"] == ["single-host"]
    assert services["load-balancer"]["image"] == "haproxy:3.0"
    assert services["load-balancer"]["ports"] == ["127.0.0.1:${WEB_PORT:-8000}:8000"]
    for server in WEB_SERVERS:
        assert "ports" not in services[server]
        assert services[server]["networks"]["default"]["aliases"] == ["web-server"], "found under one name"
    assert services["worker"]["scale"] >= 2
    config = (REPO_DIR / "haproxy" / "haproxy.cfg").read_text()
    assert re.search(r"^\s*server-template \w+ \d+ web-server:8000 check$", config, re.MULTILINE)
    assert "option httpchk" in config


def test_the_load_balancer_bounds_a_requests_time_and_each_clients_connections():
    config = (REPO_DIR / "haproxy" / "haproxy.cfg").read_text()
    defaults = config.split("\ndefaults\n", 1)[1].split("\n\n", 1)[0]
    frontend = config.split("\nfrontend web\n", 1)[1].split("\n\n", 1)[0]
    # With http-buffer-request, timeout http-request bounds the body too: a server sees only whole requests.
    assert re.search(r"^\s*option http-buffer-request$", defaults, re.MULTILINE)
    assert re.search(r"^\s*timeout http-request 5s$", defaults, re.MULTILINE)
    limit = re.search(r"^\s*tcp-request connection reject if \{ sc_conn_cur\(0\) gt (\d+) \}$", frontend, re.MULTILINE)
    assert limit and re.search(r"^\s*tcp-request connection track-sc0 src$", frontend, re.MULTILINE)
    assert re.search(r"^\s*stick-table type ipv6 .* store conn_cur$", frontend, re.MULTILINE)
    maxconn = re.search(r"^\s*maxconn (\d+)$", config, re.MULTILINE)
    assert maxconn and int(limit.group(1)) < int(maxconn.group(1))
    if shutil.which("haproxy"):
        checked = subprocess.run(
            ["haproxy", "-c", "-f", "haproxy/haproxy.cfg"], cwd=REPO_DIR, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_docker_compose_accepts_both_files_together():
    merged = merged_services()
    assert set(merged) >= {
        *NODES,
        "rabbitmq-lb",
        *WEB_SERVERS,
        "load-balancer",
        "worker",
        "postgres",
        "redis",
        "redis-2",
        *SENTINELS,
    }
    assert merged["web"]["profiles"] == ["single-host"], "the single-host web server waits in its profile"
    assert merged["worker"]["environment"]["CELERY_TASK_DEFAULT_QUEUE_TYPE"] == "quorum"


def test_every_redis_client_reaches_the_result_store_through_the_three_sentinels_with_the_password():
    merged = merged_services()
    password = REQUIRED["REDIS_PASSWORD"]
    sentinels = ";".join(f"sentinel://:{password}@{sentinel}:26379/{{db}}" for sentinel in SENTINELS)
    for service in (*WEB_SERVERS, "collector", "worker", "flower", "web"):
        environment = merged[service]["environment"]
        assert environment["CELERY_RESULT_BACKEND"] == sentinels.format(db=0), service
        assert environment["REDIS_SENTINEL_MASTER"] == "results", service
        assert environment["REDIS_SENTINEL_PASSWORD"] == password, service
    for service in (*WEB_SERVERS, "collector", "web"):
        assert merged[service]["environment"]["CACHE_URL"] == sentinels.format(db=1), service
    config = (REPO_DIR / "redis" / "sentinel.conf").read_text()
    assert re.search(r"^sentinel monitor results redis 6379 2$", config, re.MULTILINE), "two of three must agree"
    for node in ("redis", "redis-2"):
        assert merged[node]["entrypoint"] == ["/usr/local/bin/node-entrypoint"], node
        assert merged[node]["hostname"] == node
        command = merged[node]["command"]
        # Its own password, and the primary's for a replica; writes refused past maxmemory.
        assert command[command.index("--requirepass") + 1] == password, node
        assert command[command.index("--masterauth") + 1] == password, node
        assert command[command.index("--maxmemory-policy") + 1] == "noeviction", node
        assert merged[node]["environment"]["REDISCLI_AUTH"] == password, node
    for sentinel in SENTINELS:
        assert merged[sentinel]["environment"]["REDIS_PASSWORD"] == password, sentinel
        assert merged[sentinel]["environment"]["REDISCLI_AUTH"] == password, sentinel
    entrypoint = (REPO_DIR / "redis" / "sentinel-entrypoint").read_text()
    for directive in ("requirepass", "sentinel sentinel-pass", "sentinel auth-pass results"):
        assert f"{directive} " in entrypoint, directive


def test_the_erlang_cookie_has_no_default_and_no_committed_file(tmp_path):
    assert not (REPO_DIR / "rabbitmq" / "development-erlang-cookie").exists()
    secret = yaml.safe_load(CLUSTER_FILE.read_text())["secrets"]["rabbitmq-erlang-cookie"]
    assert secret["file"].startswith("${RABBITMQ_ERLANG_COOKIE_FILE:?"), secret
    refused = run_config({})
    assert refused.returncode != 0
    assert "set RABBITMQ_ERLANG_COOKIE_FILE" in refused.stderr


def test_every_service_runs_without_capabilities_privileges_or_unbounded_resources():
    merged = merged_services()
    for name, service in merged.items():
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert service.get("mem_limit") and 0 < service["pids_limit"] <= 1024, name
        assert set(service.get("cap_add", [])) <= {"CHOWN", "FOWNER", "SETUID", "SETGID"}, name
        # HAProxy, RabbitMQ and PostgreSQL aside, whose root file systems are left writable.
        if not service.get("image", "").startswith(("haproxy:", "rabbitmq:", "postgres:")):
            assert service["read_only"] is True, name


def test_each_host_that_records_writes_a_results_file_of_its_own():
    merged = merged_services()
    recorders = (*WEB_SERVERS, "collector")
    hosts = [merged[service]["environment"]["RESULTS_HOST"] for service in recorders]
    # docker-compose writes each mount as SOURCE:TARGET:MODE.
    volumes = [
        next(mount.split(":")[0] for mount in merged[service]["volumes"] if mount.split(":")[1] == "/app/results")
        for service in recorders
    ]
    assert hosts == list(recorders)
    assert len(set(volumes)) == len(recorders), volumes
    assert not any(volume.startswith("/") for volume in volumes), "a volume of its own, not a folder of the host"


def run_config(variables: dict) -> subprocess.CompletedProcess:
    """docker-compose's `config` of both files, with these variables and none of the user's."""
    client = shutil.which("docker-compose")
    if client is None:
        unavailable("docker-compose", "not on PATH")
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {*REQUIRED, "RABBITMQ_ERLANG_COOKIE_FILE", "COMPOSE_FILE"}
    }
    return subprocess.run(
        [client, "--file", "docker-compose.yml", "--file", "docker-compose.cluster.yml", "config"],
        cwd=REPO_DIR,
        env=environment | REQUIRED | variables,
        capture_output=True,
        text=True,
        timeout=60,
    )


def merged_services() -> dict:
    """Both compose files as docker-compose merges them (its `config`), with a cookie file of the test's own."""
    with tempfile.TemporaryDirectory() as folder:
        cookie = Path(folder) / "erlang-cookie"
        cookie.write_text(secrets.token_urlsafe(32) + "\n")
        result = run_config({"RABBITMQ_ERLANG_COOKIE_FILE": str(cookie)})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]
