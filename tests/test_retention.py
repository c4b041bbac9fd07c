"""Retention with real processes: the collector removes old finished submissions on its schedule;
the pages and the results file still agree."""

import pytest

from harness.processes import HttpClient, wait_until

# Three submissions moved 40 days back at once (a pruning runs every 0.5 s), done, failed, and pending
# as if its result had never come; only the done one keeps the line it claimed.
BACKDATE = """
UPDATE submissions_submission SET
    created_at = {forty_days_before},
    status = CASE first WHEN 'olddone' THEN 'done' WHEN 'oldfailed' THEN 'failed' ELSE 'pending' END,
    line_offset = CASE first WHEN 'olddone' THEN line_offset END
WHERE first IN ('olddone', 'oldfailed', 'oldpending')
"""
FORTY_DAYS_BEFORE = {"postgresql": "created_at - INTERVAL '40 days'", "sqlite": "datetime(created_at, '-40 days')"}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_collector_removes_old_done_and_failed_submissions_and_the_results_file_keeps_their_lines(
    make_stack, database
):
    stack = make_stack(
        "rabbitmq", database, SUBMISSIONS_KEEP_DAYS="30", SUBMISSIONS_PRUNE_INTERVAL="0.5", COLLECT_INTERVAL="0.3"
    )
    stack.start_worker()
    stack.start_web()
    browser = HttpClient(stack.base_url)
    pages = {first: browser.submit(first, "dogs") for first in ("olddone", "oldfailed", "oldpending", "recent")}
    assert all(f"{first} es dogs" in page.text for first, page in pages.items())
    collector = stack.start_collector()
    # After the collector's first pruning, at its start: what goes next is its schedule's doing.
    wait_until(lambda: "Pruned 0 submissions" in collector.log(), 30, what="the collector's first pruning")

    assert stack.execute(BACKDATE.format(forty_days_before=FORTY_DAYS_BEFORE[database])) == 3

    wait_until(
        lambda: [row["first"] for row in stack.submissions()] == ["oldpending", "recent"],
        30,
        what="the old done and failed submissions pruned",
    )
    assert "Pruned 2 submissions older than 30 days" in collector.log()
    assert [row["status"] for row in stack.submissions()] == ["pending", "done"]
    assert stack.results_lines() == [f"{first} es dogs" for first in pages], "the file keeps every line"
    assert browser.revisit(pages["olddone"]).status_code == 404
    recent = browser.revisit(pages["recent"])
    assert recent.status_code == 200
    assert "recent es dogs" in recent.text
    history = browser.get("/").text
    assert "recent es dogs" in history
    assert "olddone" not in history
