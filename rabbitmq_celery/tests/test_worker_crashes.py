import pytest

from adding.tasks import adding_taski
from adding.worker_crashes import MAX_WORKER_CRASHES, CrashedItsWorker, refuse_after_worker_crashes


@pytest.mark.parametrize("crashes", range(MAX_WORKER_CRASHES))
def test_a_task_that_crashed_its_worker_fewer_times_runs(crashes):
    refuse_after_worker_crashes(crashes)
    result = adding_taski.apply(args=("cats", "dogs"), retries=crashes)
    assert result.get() == "cats es dogs"


def test_the_run_after_the_last_allowed_crash_fails_with_the_count_and_does_not_run():
    result = adding_taski.apply(args=("cats", "dogs"), retries=MAX_WORKER_CRASHES)
    assert result.failed()
    assert isinstance(result.result, CrashedItsWorker)
    assert str(result.result) == "the task crashed its worker 3 times; it is not run again"
