"""Several gunicorn processes and many clients at once: one whole line per result, and a restart loses nothing."""

import re

from harness.processes import HttpClient, submit_concurrently

SUBMISSIONS = 40
CLIENTS = 16


def test_many_clients_on_four_web_processes_get_one_whole_line_each_and_a_restart_loses_nothing(make_stack):
    stack = make_stack(GUNICORN_WORKERS="4", RESULT_TIMEOUT="5")
    stack.start_worker()
    web = stack.start_web()
    pairs = [(f"client{index}", "dogs") for index in range(SUBMISSIONS)]

    pages = submit_concurrently(stack.base_url, pairs, clients=CLIENTS)

    assert [page.status_code for page in pages] == [200] * SUBMISSIONS
    collected = stack.collect_all_results()
    assert "failed: 0" in collected
    text = stack.results_file.read_text(encoding="utf-8")
    assert text.endswith("\n"), "no torn last line"
    lines = text.splitlines()
    assert all(re.fullmatch(r"client\d+ es dogs", line) for line in lines), "no torn or interleaved lines"
    assert sorted(lines) == sorted(f"{first} es {second}" for first, second in pairs), "one line each, none twice"

    web.stop()
    stack.start_web()
    browser = HttpClient(stack.base_url)
    assert "client7 es dogs" in browser.revisit(pages[7]).text
    assert "later es cats" in browser.submit("later", "cats").text
    assert stack.results_lines() == [*lines, "later es cats"], "the restart kept every line and appends after them"
    assert len(stack.submissions()) == SUBMISSIONS + 1
