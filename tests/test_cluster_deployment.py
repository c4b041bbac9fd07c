"""docker-compose.cluster.yml under load, losing one part at a time: `make test-cluster`.

The repository's files are copied to a folder of the test's own and both compose files
run there, unchanged, under a project name of its own, on the stand-in images. Load
clients keep submitting the form through the load balancer while each fault is done;
then every submission is checked against PostgreSQL and the results files of every host:
none lost, none written twice. The table of what happened is printed at the end.
The tests share one deployment and run in this order; the last removes it.
"""

import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests

from harness.processes import HttpClient, free_port, wait_until
from tests.cluster import (
    RABBITMQ_NODES,
    REDIS_NODES,
    SENTINELS,
    STACK,
    WEB_SERVERS,
    ClusterProject,
    FaultReport,
    LoadClients,
    account,
    settle,
)
from tests.containers import FAILED_PHASES, container_engine, copy_tracked_files, engine, require_compose_tools

pytestmark = pytest.mark.timeout(2400)

# Submissions answered before a fault is done, so it strikes a deployment under load.
STEADY_ANSWERS = 3
# How long the load goes on once the deployment has its parts back.
LOAD_AFTER_RECOVERY = 8
RECOVERY_TIMEOUT = 240
NODES = {node: 1 for node in RABBITMQ_NODES}
WEB = {server: 1 for server in WEB_SERVERS}


class Cluster(ClusterProject):
    """The deployment, with the load balancer on a port of the test's own."""

    def __init__(self, *args, web_port: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.web_port = web_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self, extra: dict | None = None) -> dict:
        # A result that only a lost Redis primary held is sent again this long after its submission.
        return super().env({"WEB_PORT": str(self.web_port), "STALE_PENDING_SECONDS": "30", **(extra or {})})


@pytest.fixture(scope="module")
def reports(request):
    """Each fault's report; printed as one table when the module is done."""
    collected: list[FaultReport] = []
    yield collected
    lines = ["", "Faults under load (docker-compose.cluster.yml):", FaultReport.header()]
    lines += [report.row() for report in collected]
    for report in collected:
        lines += [f"  {report.fault}: {note}" for note in report.notes]
    show(request, lines)


def show(request, lines: list[str]):
    """Write lines on the terminal, past pytest's capture of the test's output."""
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        for line in lines:
            terminal.write_line(line)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request):
    require_compose_tools("the compose files")

    directory = tmp_path_factory.mktemp("cluster") / "project"
    copy_tracked_files(directory)
    name = f"djrc-cluster-{uuid.uuid4().hex[:8]}"
    with container_engine(name) as docker_host:
        project = Cluster(directory, name, docker_host, web_port=free_port())
        failed_before = request.config.stash.get(FAILED_PHASES, 0)
        logs = directory.parent / "logs.txt"
        try:
            try:
                build_seconds, start_seconds = project.build_and_start(STACK, timeout=420)
            except Exception:
                keep_logs(request, project, logs)
                raise
            show(request, [f"cluster: images built in {build_seconds:.0f} s, healthy {start_seconds:.0f} s later"])
            yield project
            if request.config.stash.get(FAILED_PHASES, 0) > failed_before:
                keep_logs(request, project, logs)
        finally:
            project.down()


def keep_logs(request, project: Cluster, path):
    """Every container's log, kept past the deployment's removal for a failure's cause."""
    try:
        result = project.attempt("logs", "--no-color", "--timestamps", timeout=300)
    except subprocess.TimeoutExpired:
        show(request, ["cluster: a test failed, and the containers' logs did not come within 300 s"])
        return
    path.write_text(result.stdout + result.stderr)
    show(request, [f"cluster: a test failed; every container's log is in {path}"])


def under_load(cluster: Cluster, fault: str, do_fault, reports: list) -> FaultReport:
    """Start the load, do the fault once submissions flow (do_fault waits until the parts are back),
    load a while longer, then account for every submission."""
    prefix = f"{fault}{uuid.uuid4().hex[:4]}"
    with LoadClients(cluster.base_url, prefix) as load:
        wait_until(
            lambda: sum(a.outcome == "answered" for a in load.attempts) >= STEADY_ANSWERS,
            120,
            interval=0.5,
            what="submissions answered before the fault",
        )
        fault_at = time.monotonic()
        notes = do_fault(load) or []
        back_at = time.monotonic()
        wait_until(
            lambda: load.answered_since(back_at), RECOVERY_TIMEOUT, interval=0.5, what="submissions answered again"
        )
        time.sleep(LOAD_AFTER_RECOVERY)
    settle(cluster, prefix)
    report = account(cluster, fault, prefix, load.attempts, fault_at)
    report.notes[:0] = notes
    reports.append(report)
    return report


def assert_nothing_lost(report: FaultReport):
    assert report.sent > STEADY_ANSWERS
    assert report.failures == 0, f"{report.row()}\n" + "\n".join(report.notes)


def wait_for_whole_cluster(cluster: Cluster):
    cluster.wait_healthy(NODES, timeout=RECOVERY_TIMEOUT)
    try:
        wait_until(lambda: len(cluster.running_nodes()) == 3, RECOVERY_TIMEOUT, interval=2, what="3 running nodes")
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{cluster.rabbitmq_diagnostics()}") from error


def test_the_three_nodes_form_one_cluster_and_the_task_queue_is_a_quorum_queue_on_all(cluster):
    assert cluster.running_nodes() == ["rabbit@rabbitmq", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"]
    queue = cluster.task_queue()
    assert queue["type"] == "quorum"
    assert queue["members"] == ["rabbit@rabbitmq", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"]


def test_killing_the_queue_leader_elects_another_and_submissions_go_on(cluster, reports):
    def kill_leader(load):
        leader = cluster.task_queue()["leader"]
        cluster.sigkill(cluster.container_of_node(leader))
        new_leader = wait_until(
            lambda: (found := cluster.task_queue()["leader"]) != leader and found,
            RECOVERY_TIMEOUT,
            interval=1,
            what="a new leader",
        )
        wait_for_whole_cluster(cluster)
        return [f"leader {leader} killed, {new_leader} elected"]

    report = under_load(cluster, "leader", kill_leader, reports)

    assert_nothing_lost(report)
    assert len(cluster.task_queue()["members"]) == 3, "the restarted node is a member again"


def test_a_worker_killed_mid_task_leaves_its_task_to_another(cluster, reports):
    killed = {}

    def kill_worker_holding_a_task(load):
        worker = cluster.container("worker")
        # Celery's processes, without the container's init (its command line names celery too).
        init = cluster.host_pid(worker)
        celery = [p for p in cluster.processes(worker) if "celery" in p["args"] and p["hpid"] != init]
        pool_children = [p for p in celery if p["ppid"] in {q["pid"] for q in celery}]
        assert pool_children, f"no pool process in {celery}"
        # Stopped, the pool process keeps the task it was given without finishing it.
        for child in pool_children:
            os.kill(child["hpid"], signal.SIGSTOP)
        held = wait_until(lambda: cluster.held_tasks(worker), 60, interval=0.5, what="a task held by the worker")
        killed["at"] = time.monotonic()
        cluster.sigkill(worker)
        cluster.wait_healthy({"worker": 3}, timeout=RECOVERY_TIMEOUT)
        return [f"{worker} killed holding {held} task(s) it had not acknowledged"]

    report = under_load(cluster, "worker", kill_worker_holding_a_task, reports)

    assert_nothing_lost(report)
    # The submissions whose tasks the stopped worker held were still waiting when it was killed.
    held = [a for a in report.attempts if a.started < killed["at"] < a.finished]
    assert held, "a submission was waiting on the killed worker"
    assert all(a.outcome in ("answered", "pending") for a in held), held


def test_killing_a_web_server_sends_the_traffic_to_the_other(cluster, reports):
    def kill_web_server(load):
        web = cluster.container("web-server-2")
        cluster.sigkill(web)
        cluster.wait_healthy(WEB, timeout=RECOVERY_TIMEOUT)
        return [f"{web} killed"]

    report = under_load(cluster, "web", kill_web_server, reports)

    assert_nothing_lost(report)


def test_a_node_cut_off_the_network_then_healed_loses_nothing(cluster, reports):
    def cut_and_heal(load):
        # The task queue's leader: the majority must elect another while clients lose their node.
        node = cluster.task_queue()["leader"].split("@", 1)[1]
        container = cluster.container(node)
        # A partition heals with the node at the address it had; the others reconnect to that.
        address = cluster.address(container)
        engine("network", "disconnect", cluster.network, container)
        try:
            cut_at = time.monotonic()
            wait_until(
                lambda: load.answered_since(cut_at + 5), RECOVERY_TIMEOUT, interval=0.5, what="the majority serving"
            )
            wait_until(
                lambda: len(cluster.running_nodes()) == 2,
                RECOVERY_TIMEOUT,
                interval=2,
                what="the cut node out of the cluster",
            )
        finally:
            engine("network", "connect", "--alias", node, "--ip", address, cluster.network, container)
        wait_for_whole_cluster(cluster)
        return [f"{container} cut off, then connected again"]

    report = under_load(cluster, "partition", cut_and_heal, reports)

    assert_nothing_lost(report)
    assert len(cluster.task_queue()["members"]) == 3


def test_a_whole_cluster_restart_keeps_the_queued_messages(cluster, reports):
    queued = {}

    def restart_with_messages_queued(load):
        cluster.run("stop", "--timeout", "60", "worker", timeout=300)
        try:
            queued["before"] = wait_until(
                lambda: (ready := cluster.task_queue()["ready"]) >= 5 and ready,
                180,
                interval=1,
                what="messages queued",
            )
            containers = [cluster.container(node) for node in RABBITMQ_NODES]
            restarts = [
                threading.Thread(target=engine, args=("restart", "--time", "60", container), kwargs={"timeout": 300})
                for container in containers
            ]
            for restart in restarts:
                restart.start()
            for restart in restarts:
                restart.join(timeout=320)
            wait_for_whole_cluster(cluster)
            queued["after"] = cluster.task_queue()["ready"]
        finally:
            cluster.run("start", "worker", timeout=300)
        cluster.wait_healthy({"worker": 3}, timeout=RECOVERY_TIMEOUT)
        return [f"{queued['before']} messages queued before the restart, {queued['after']} after it"]

    report = under_load(cluster, "restart", restart_with_messages_queued, reports)

    assert_nothing_lost(report)
    assert queued["after"] >= queued["before"], "every queued message kept"


def test_killing_the_redis_primary_promotes_a_replica_and_no_result_is_lost(cluster, reports):
    """The host of the result store's primary is lost (cut off the network, its process killed): the
    sentinels promote the replica, every process follows it with none restarted, and a result that only
    the lost primary held is sent again by the collector, not lost."""
    health: list[tuple[float, bool]] = []
    seen = {}

    def kill_primary(load):
        primary = cluster.redis_primary()
        assert primary in REDIS_NODES, primary
        container = cluster.container(primary)
        seen["processes"] = cluster.started(("worker", "collector", *WEB_SERVERS))
        watching = threading.Event()
        watcher = threading.Thread(target=watch_health, args=(cluster, health, watching), daemon=True)
        watcher.start()
        try:
            engine("network", "disconnect", cluster.network, container)
            seen["killed_at"] = time.monotonic()
            cluster.sigkill(container)
            promoted = wait_until(
                lambda: (found := cluster.redis_primary()) not in (None, primary) and found,
                RECOVERY_TIMEOUT,
                interval=0.5,
                what="a replica promoted",
            )
            seen["promoted_at"] = time.monotonic()
        finally:
            engine("network", "connect", "--alias", primary, cluster.network, container, check=False)
        # Back on the network, the lost primary is made a replica of the new one.
        try:
            wait_until(lambda: cluster.redis_role(primary) == "slave", RECOVERY_TIMEOUT, interval=1, what="a replica")
            cluster.wait_healthy({**dict.fromkeys(REDIS_NODES, 1), **dict.fromkeys(SENTINELS, 1)}, RECOVERY_TIMEOUT)
        finally:
            watching.set()
            watcher.join(timeout=60)
        promoted_after = seen["promoted_at"] - seen["killed_at"]
        return [f"primary {primary} cut off and killed, {promoted} promoted {promoted_after:.1f} s later"]

    report = under_load(cluster, "redis-primary", kill_primary, reports)

    assert_nothing_lost(report)
    assert cluster.started(("worker", "collector", *WEB_SERVERS)) == seen["processes"], "no process restarted"
    after_kill = [up for moment, up in health if moment >= seen["killed_at"]]
    assert False in after_kill, f"/healthz reported the result store down while no primary was known: {health}"
    assert after_kill[-1] is True, f"/healthz reported it up again after the promotion: {health}"
    # The submissions in flight between the kill and the promotion: how long the site kept them waiting.
    across = [
        a.finished - a.started
        for a in report.attempts
        if a.finished >= seen["killed_at"] and a.started <= seen["promoted_at"]
    ]
    report.notes.append(
        f"/healthz: result store down {after_kill.count(False)} of {len(after_kill)} looks after the kill, then up; "
        f"the slowest submission in flight between the kill and the promotion took {max(across, default=0):.1f} s"
    )


def watch_health(cluster: Cluster, health: list, stopped: threading.Event):
    """Note what /healthz says of the result store, through the load balancer, twice a second."""
    while not stopped.wait(0.5):
        try:
            body = requests.get(cluster.base_url + "/healthz", timeout=10).json()
        except (requests.RequestException, ValueError):
            continue
        health.append((time.monotonic(), body["result_backend"]["up"]))


def test_a_writer_killed_mid_recording_leaves_each_line_once_across_the_hosts(cluster, reports):
    """A web server's recording process killed between appending a line and marking it done, again and
    again: each restarted process finishes the line in its own host's file, and no host writes it again."""
    kills = {}

    def web_server_1_logs() -> str:
        # docker-compose gives a container's output and errors alike.
        return cluster.run("logs", "--no-color", "web-server-1", timeout=60)

    def kill_writers_mid_recording(load):
        recreate_web_servers(cluster, {"RECORD_FAULT_POINT": "after-append"}, ("web-server-1",))
        killed = "RECORD_FAULT_POINT=after-append: killing this process"
        kills["count"] = wait_until(
            lambda: (count := web_server_1_logs().count(killed)) >= 3 and count,
            RECOVERY_TIMEOUT,
            interval=1,
            what="recorders killed mid-recording",
        )
        kills["recovered"] = web_server_1_logs().count("its line was already written")
        recreate_web_servers(cluster, {}, ("web-server-1",))
        return [f"{kills['count']} recorders of web-server-1 killed after appending their line"]

    report = under_load(cluster, "writer", kill_writers_mid_recording, reports)

    assert_nothing_lost(report)
    assert kills["recovered"] >= 1, "a restarted process found a killed one's line in its file and finished it"
    report.notes.append(f"{kills['recovered']} lines in doubt finished by web-server-1's restarted processes")


# A client inside the compose network (the worker's container): another address to HAProxy.
# GET the form for its CSRF token, POST it; print the POST's status.
POST_FROM_INSIDE = """
import http.cookiejar, re, urllib.error, urllib.parse, urllib.request
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
headers = {"Host": "localhost"}
form = opener.open(urllib.request.Request("http://load-balancer:8000/", headers=headers), timeout=30).read().decode()
token = re.search('name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "first": "inside", "second": "dogs"}).encode()
try:
    status = opener.open(urllib.request.Request("http://load-balancer:8000/", body, headers), timeout=30).status
except urllib.error.HTTPError as answer:
    status = answer.code
print(status)
"""
RATE_LIMIT = 10


def recreate_web_servers(cluster: Cluster, env: dict, servers: tuple[str, ...] = WEB_SERVERS):
    cluster.run("up", "--detach", "--no-deps", *servers, env=env, timeout=300)
    cluster.wait_healthy(WEB, timeout=RECOVERY_TIMEOUT)
    # HAProxy takes a server back after two good checks, 2 s apart.
    wait_until(
        lambda: requests.get(cluster.base_url + "/", timeout=10).status_code == 200,
        RECOVERY_TIMEOUT,
        interval=1,
        what="the load balancer serving again",
    )


def test_behind_the_load_balancer_the_rate_limit_counts_each_real_client(cluster):
    """Both web servers count in the one Redis, by the address HAProxy appends to X-Forwarded-For."""
    recreate_web_servers(cluster, {"SUBMISSIONS_RATE": f"{RATE_LIMIT}/m"})
    try:
        flooder = HttpClient(cluster.base_url)
        token = flooder.csrf_token()
        answers = [
            flooder.session.post(
                cluster.base_url + "/",
                data={"csrfmiddlewaretoken": token, "first": f"flood{number}", "second": "dogs"},
                # A forged header: HAProxy appends the real address after it.
                headers={"X-Forwarded-For": f"198.51.100.{number}"},
                allow_redirects=False,
                timeout=30,
            ).status_code
            for number in range(RATE_LIMIT + 6)
        ]
        inside = cluster.exec("worker", "python", "-c", POST_FROM_INSIDE).strip()
    finally:
        recreate_web_servers(cluster, {"SUBMISSIONS_RATE": "off"})

    assert answers == [302] * RATE_LIMIT + [429] * 6, answers
    assert inside == "302", "another client is not slowed"
