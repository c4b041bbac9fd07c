from redis.exceptions import ConnectionError as RedisConnectionError

from submissions.result_backend import is_backend_unreachable


def given_up_reconnecting() -> RuntimeError:
    """What Celery's Redis result channel raises when its bounded reconnects fail."""
    try:
        try:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except RedisConnectionError as exc:
            raise RuntimeError("Retry limit exceeded while trying to reconnect") from exc
    except RuntimeError as exc:
        return exc


def test_a_redis_error_means_the_backend_is_unreachable():
    assert is_backend_unreachable(RedisConnectionError("refused"))


def test_the_result_channel_giving_up_means_the_backend_is_unreachable():
    assert is_backend_unreachable(given_up_reconnecting())


def test_any_other_runtime_error_is_a_bug_not_an_outage():
    assert not is_backend_unreachable(RuntimeError("something else"))
