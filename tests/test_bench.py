"""Smoke tests of the benchmark's own parts (bench/): its load generator and counters against the
project, and the seed it measures the project against."""

import sqlite3
import time

import pytest

from bench import metrics
from bench.large_table import fill_submissions, timings_turn, visitor_of
from bench.load import FormProbe, Load, browser_medians
from bench.stacks import SEED_FIELDS, SeedStack, redirected_to_the_form
from harness.processes import REDIS_URL, HttpClient


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


def test_the_seed_saves_a_row_per_submission_and_redirects_to_its_form(make_stack):
    seed = make_stack(kind=SeedStack)
    seed.start_worker()
    seed.start_web()

    load = Load(seed.base_url, clients=2, fields=SEED_FIELDS, answered=redirected_to_the_form).start()
    probe = FormProbe(seed.base_url, seconds=2).start()
    time.sleep(2)
    probe.stop()
    load.stop()

    assert not load.errors
    assert len(load.samples) >= 2
    assert all(sample.ok for sample in load.samples)
    assert {sample.browser for sample in load.samples} == {0, 1}
    medians = browser_medians(load.samples)
    assert len(medians) == 2 and all(0 < median < 30 for median in medians)
    assert probe.latencies and not probe.failures
    with sqlite3.connect(seed.root / "db.sqlite3") as database:
        saved = database.execute("SELECT first_number || ' es ' || second_number FROM seed_adding_adding").fetchall()
    assert sorted(row for (row,) in saved) == sorted(sample.expected for sample in load.samples)
    # The seed's open(..., "w+"): each result replaces the one before.
    assert (seed.root / "myfile.txt").read_text() in {sample.expected for sample in load.samples}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_large_tables_rows_are_read_by_the_web_app_as_its_own(make_stack, database):
    stack = make_stack("rabbitmq", database)
    stack.start_worker()
    stack.start_web()
    browser = HttpClient(stack.base_url)
    browser.submit("history", "dogs").raise_for_status()

    # Every 20th of the 2,000 rows is the browser's: 0, 20, ..., 1980, the newest.
    fill_submissions(stack, 2000, visitor_of(stack, "history"), history=100)

    assert len(stack.submissions()) == 2001
    page = browser.get("/").text
    assert "f1980 es dogs" in page
    assert "f1981 es dogs" not in page, "another visitor's"
    timings = timings_turn(stack)
    # Milliseconds a call, on 2,001 rows: more than nothing, far less than a second.
    assert 0 < timings["sweep_ms"] < 1000
    assert 0 < timings["prune_ms"] < 1000
    assert 0 < timings["prune_batch_ms"] < 1000
    # The timed batches of a backlog removed the rows older than a day: f1932 is the oldest younger.
    assert [row["first"] for row in stack.submissions()] == ["history", *(f"f{n}" for n in range(1932, 2000))]
