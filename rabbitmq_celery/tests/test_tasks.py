import inspect

import pytest

from adding.tasks import ADDING_TASK_NAME, adding_taski
from rabbitmq_celery.celery import app


def test_task_is_registered_under_the_contract_name():
    app.loader.import_default_modules()
    assert ADDING_TASK_NAME == "adding_taski"
    assert app.tasks[ADDING_TASK_NAME].run is adding_taski.run


def test_task_joins_with_es():
    assert adding_taski("cats", "dogs") == "cats es dogs"


def test_task_runs_through_celery_apply():
    result = adding_taski.apply(args=("cats", "dogs"))
    assert result.successful()
    assert result.get() == "cats es dogs"


def test_task_takes_exactly_two_arguments():
    assert list(inspect.signature(adding_taski.run).parameters) == ["first", "second"]


@pytest.mark.parametrize(
    ("args", "error"),
    [((1, 2), "TypeError"), (("x" * 201, "dogs"), "ValueError"), (("cats", "\x1b]0;title\x07"), "ValueError")],
)
def test_task_with_arguments_the_form_refuses_fails_with_the_reason(args, error):
    result = adding_taski.apply(args=args)
    assert result.failed()
    assert type(result.result).__name__ == error
    assert "first" in str(result.result) or "second" in str(result.result)
