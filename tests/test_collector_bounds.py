"""The collector against a broker that stops answering on an open connection, and its heartbeat.

A TCP proxy in front of the real RabbitMQ passes the connection's handshake, then swallows
everything the broker sends, as a host cut off the network would: no reset ever comes.
"""

import os
import socket
import struct
import subprocess
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from harness.processes import RABBITMQ_URL, wait_until

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Connection.Start, Connection.Tune, Connection.OpenOk: what the broker says before the first channel.
HANDSHAKE_FRAMES = 3
# The broker read timeout of web_app's settings. Two reads wait it out (the channel's opening, then the
# connection's closing), plus slack for the rest.
READ_TIMEOUT = 10
BOUND = 2 * READ_TIMEOUT + 10


class MuteAfterHandshake(threading.Thread):
    """Listens on a port of its own; each connection goes to RabbitMQ, whose frames past the handshake are dropped."""

    def __init__(self, target: tuple[str, int]):
        super().__init__(daemon=True)
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=5)
            server.settimeout(None)
            self.sockets += [client, server]
            threading.Thread(target=self.pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self.frames_then_silence, args=(server, client), daemon=True).start()

    @staticmethod
    def pipe(source: socket.socket, destination: socket.socket):
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass

    @staticmethod
    def frames_then_silence(server: socket.socket, client: socket.socket):
        """Pass the broker's first frames (type, channel, size, payload, end), then read and drop the rest."""
        buffer, passed = b"", 0
        try:
            while data := server.recv(65536):
                if passed >= HANDSHAKE_FRAMES:
                    continue
                buffer += data
                while passed < HANDSHAKE_FRAMES and len(buffer) >= 7:
                    size = struct.unpack(">I", buffer[3:7])[0]
                    if len(buffer) < 7 + size + 1:
                        break
                    client.sendall(buffer[: 7 + size + 1])
                    buffer = buffer[7 + size + 1 :]
                    passed += 1
        except OSError:
            pass

    def close(self):
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def mute_broker(real_services):
    parts = urlsplit(RABBITMQ_URL)
    proxy = MuteAfterHandshake((parts.hostname or "127.0.0.1", parts.port or 5672))
    proxy.start()
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    yield urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    proxy.close()


def test_the_collector_s_question_to_a_broker_that_went_silent_ends_within_its_timeout(make_stack, mute_broker):
    stack = make_stack("rabbitmq")
    probe = (
        "import time\n"
        "from submissions.services.lost_tasks import tasks_held_by_workers\n"
        "started = time.monotonic()\n"
        "print('probe:', tasks_held_by_workers(['some-task-id']), round(time.monotonic() - started, 1))\n"
    )

    started = time.monotonic()
    try:
        asked = stack.manage(
            "shell", "-c", probe, env={**stack.env, "CELERY_BROKER_URL": mute_broker}, timeout=BOUND * 3
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the collector's question to a silent broker still waited after {BOUND * 3} s")
    took = time.monotonic() - started

    assert asked.returncode == 0, asked.stderr
    answer, seconds = next(line for line in asked.stdout.splitlines() if line.startswith("probe:")).split()[1:]
    assert answer == "None", "the tasks' whereabouts are unknown, so stale submissions are left alone"
    assert READ_TIMEOUT - 1 <= float(seconds) <= BOUND, asked.stdout
    assert took < BOUND * 2
    assert "Cannot tell whether stale submissions are still queued" in asked.stderr


def heartbeat_check(path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(REPO_DIR, "web_app", "bin", "collector-healthcheck")],
        env={**os.environ, "COLLECTOR_HEARTBEAT_FILE": path},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_heartbeat_tells_a_sweeping_collector_from_a_stuck_one(make_stack, tmp_path):
    heartbeat = tmp_path / "collector-heartbeat"
    stack = make_stack("rabbitmq", COLLECTOR_HEARTBEAT_FILE=str(heartbeat))
    stack.manage("migrate", "--noinput")
    collector = stack.start_collector()

    wait_until(heartbeat.exists, 60, interval=0.2, what="the collector's first heartbeat")
    assert heartbeat_check(str(heartbeat)).returncode == 0
    # Stopped in the middle of its loop, as a hung call would hold it: its heartbeat grows old.
    collector.signal(19)  # SIGSTOP
    try:
        beaten = heartbeat.stat().st_mtime
        time.sleep(3)
        assert heartbeat.stat().st_mtime == beaten
        os.utime(heartbeat, (beaten - 120, beaten - 120))
        stuck = heartbeat_check(str(heartbeat))
    finally:
        collector.signal(18)  # SIGCONT
    assert stuck.returncode == 1
    assert "no sweep ended in the last" in stuck.stderr
    wait_until(lambda: heartbeat_check(str(heartbeat)).returncode == 0, 30, interval=0.5, what="a fresh heartbeat")
    assert heartbeat_check(str(tmp_path / "never-written")).returncode == 1
