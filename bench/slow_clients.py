"""A real client's GET / while hundreds of slow clients hold connections open to the web app.

Starts the project's worker and web process (as the end-to-end tests do, against the local
RabbitMQ and Redis), opens SLOW_SOCKETS connections that send a request line and then one
header line every DRIP_SECONDS without ever finishing (a slowloris), and times GET / from
one client meanwhile. Run: python -m bench.slow_clients [--sockets 300] [--requests 100]
[--through-nginx]. Prints the client's p50, p99 and max, and how many of its requests failed.
With --through-nginx, the clients talk to an nginx (the `nginx` binary, apt-get install
nginx-light) configured by nginx/web.conf in front of gunicorn, as under docker compose.
GUNICORN_WORKER_CLASS in the environment chooses gunicorn's worker.
"""

import argparse
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from harness.external_services import delete_queue
from harness.processes import RABBITMQ_URL, REPO_DIR, Stack, free_port, wait_until

DRIP_SECONDS = 5


def hold_slow_sockets(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)

    def drip():
        while not stop.wait(DRIP_SECONDS):
            for sock in list(sockets):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    sockets.remove(sock)

    threading.Thread(target=drip, daemon=True).start()
    return sockets


def start_nginx(root: Path, upstream_port: int) -> tuple[subprocess.Popen, int]:
    """nginx with the project's nginx/web.conf on a free local port, in front of gunicorn."""
    port = free_port()
    server = (REPO_DIR / "nginx" / "web.conf").read_text()
    server = server.replace("http://web:8000", f"http://127.0.0.1:{upstream_port}")
    server = server.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    (root / "server.conf").write_text(server)
    (root / "nginx.conf").write_text(
        f"pid {root}/nginx.pid; error_log {root}/nginx-error.log; daemon off;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;"
        f" include {root}/server.conf; }}\n"
    )
    return subprocess.Popen(["nginx", "-c", str(root / "nginx.conf")]), port


def time_requests(url: str, count: int, timeout: float) -> tuple[list[float], int]:
    durations, failures = [], 0
    for _ in range(count):
        started = time.monotonic()
        try:
            ok = requests.get(url, timeout=timeout).status_code == 200
        except requests.RequestException:
            ok = False
        durations.append(time.monotonic() - started)
        failures += not ok
    return durations, failures


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=10.0, help="the real client's timeout per request")
    parser.add_argument("--through-nginx", action="store_true", help="put nginx (nginx/web.conf) in front")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as root:
        stack = Stack(root=Path(root), transport="rabbitmq")
        stop = threading.Event()
        nginx = None
        try:
            stack.start_worker()
            stack.start_web()
            port = stack.port
            if arguments.through_nginx:
                nginx, port = start_nginx(Path(root), stack.port)
            url = f"http://127.0.0.1:{port}/"
            wait_until(lambda: time_requests(url, 1, arguments.timeout)[1] == 0, 30, what="the page answering")
            quiet, _ = time_requests(url, 20, arguments.timeout)
            sockets = hold_slow_sockets(port, arguments.sockets, stop)
            time.sleep(DRIP_SECONDS + 1)  # every slow socket has sent a byte, and the server has taken it
            durations, failures = time_requests(url, arguments.requests, arguments.timeout)
            print(f"quiet: p50 {statistics.median(quiet) * 1000:.1f} ms")
            print(
                f"{arguments.sockets} slow sockets ({len(sockets)} still open): "
                f"p50 {statistics.median(durations) * 1000:.1f} ms, p99 {percentile(durations, 0.99) * 1000:.1f} ms, "
                f"max {max(durations) * 1000:.1f} ms, failed {failures} of {arguments.requests} "
                f"(timeout {arguments.timeout:g} s)"
            )
        finally:
            stop.set()
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
            stack.stop_all()
            delete_queue(RABBITMQ_URL, stack.queue)


if __name__ == "__main__":
    main()
