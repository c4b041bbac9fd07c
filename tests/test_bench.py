"""A smoke test of the benchmark's own load generator and counters (bench/), against the project."""

import time

from bench import metrics
from bench.load import Load
from harness.processes import REDIS_URL


def test_one_browser_for_two_seconds_gives_sane_numbers_and_every_line_lands(make_stack):
    stack = make_stack("rabbitmq")
    worker = stack.start_worker()
    web = stack.start_web()
    redis_commands = metrics.RedisCommands(REDIS_URL)
    pids = [web.popen.pid, worker.popen.pid]

    cpu_before, redis_before = metrics.cpu_seconds(pids), redis_commands.snapshot()
    load = Load(stack.base_url, clients=1).start()
    time.sleep(2)
    load.stop()
    cpu_used = metrics.cpu_delta(cpu_before, metrics.cpu_seconds(pids))
    commands = metrics.RedisCommands.delta(redis_before, redis_commands.snapshot())

    assert not load.errors
    assert len(load.samples) >= 2
    assert all(sample.ok for sample in load.samples)
    assert all(0 < sample.post_seconds <= sample.seconds < 30 for sample in load.samples)
    assert 0 < cpu_used < 2 * 2 * 4, "at most every core for the whole run"
    assert commands.get("publish", 0) >= len(load.samples), "the worker announces each result"
    assert sorted(stack.results_lines()) == sorted(sample.expected for sample in load.samples)
