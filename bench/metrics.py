"""What the benchmark counts: CPU and memory of process trees, and Redis commands."""

import contextlib
import threading
from urllib.parse import urlparse

import psutil
import redis


def tree(pid: int) -> list[psutil.Process]:
    """A process and everything it started, as far as it still runs."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def listening_pid(port: int) -> int | None:
    """The process that listens on a local TCP port (RabbitMQ's beam.smp, redis-server)."""
    for connection in psutil.net_connections(kind="tcp"):
        address = connection.laddr
        if connection.status == psutil.CONN_LISTEN and address and address.port == port and connection.pid:
            return connection.pid
    return None


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of every process in the trees of `pids`, by process id."""
    seconds = {}
    for pid in pids:
        for process in tree(pid):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds[process.pid] = times.user + times.system
    return seconds


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process born during the window counts from zero.
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def rss_bytes(pid: int) -> int:
    total = 0
    for process in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


class PeakMemory:
    """Samples the RSS of named process trees in the background and keeps each peak."""

    def __init__(self, pids: dict[str, int], interval: float = 0.2):
        self.pids = pids
        self.interval = interval
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], rss_bytes(pid))
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)


class RedisCommands:
    """Counts commands on the Redis server from INFO commandstats (server-wide)."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.port = urlparse(url).port or 6379

    def snapshot(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}

    def connected_clients(self) -> int:
        """Clients connected to the server, this one included."""
        return int(self.client.info("clients")["connected_clients"])

    def keys(self) -> int:
        """Keys in the benchmark's database: the results left behind."""
        return self.client.dbsize()

    def bytes_per_result(self, sample: int = 200) -> float:
        """Mean MEMORY USAGE of up to `sample` stored results (0 when none is left)."""
        sizes = []
        for key in self.client.scan_iter(match="celery-task-meta-*", count=sample):
            sizes.append(self.client.memory_usage(key) or 0)
            if len(sizes) >= sample:
                break
        return sum(sizes) / len(sizes) if sizes else 0.0

    @staticmethod
    def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        changed = {name: calls - before.get(name, 0) for name, calls in after.items()}
        # The snapshot that opened the window is counted by the one that closes it.
        changed["info"] = changed.get("info", 0) - 1
        return {name: calls for name, calls in changed.items() if calls > 0}
