from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.sentinel import MasterNotFoundError

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


def test_no_primary_known_to_the_sentinels_means_the_backend_is_unreachable():
    assert is_backend_unreachable(MasterNotFoundError("No master found for 'results'"))


def test_a_demoted_primary_refusing_a_write_means_the_backend_is_unreachable():
    # redis-py turns it into a ConnectionError on a primary's Sentinel pool; on any other it comes as it is.
    assert is_backend_unreachable(ReadOnlyError("You can't write against a read only replica."))
