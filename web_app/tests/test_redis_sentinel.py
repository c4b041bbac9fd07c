"""CACHE_URL and CELERY_RESULT_BACKEND as plain Redis, files, or Redis under Sentinel."""

import socket
import time

import pytest
from celery import Celery
from django.core.exceptions import ImproperlyConfigured
from django_redis.cache import RedisCache
from redis.sentinel import MasterNotFoundError, SentinelConnectionPool

from submissions.result_backend import is_backend_unreachable
from web_app.redis_sentinel import (
    SentinelUrl,
    cache_from_url,
    is_sentinel_url,
    parse_sentinel_url,
    result_backend_sentinel_options,
)

SENTINELS = "sentinel://10.0.0.1:26379/0;sentinel://10.0.0.2:26380/0;sentinel://sentinel-3:26379/0"


def unused_port() -> int:
    """A port nothing listens on: a sentinel that refuses every connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_sentinel_url_names_every_sentinel_with_the_first_one_s_database():
    assert parse_sentinel_url(SENTINELS) == SentinelUrl(
        sentinels=[("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-3", 26379)], db=0, password=None
    )
    assert parse_sentinel_url("sentinel://:p%40ss@sentinel-1/3").password == "p@ss"
    assert parse_sentinel_url("sentinel://:p%40ss@sentinel-1/3").db == 3
    assert parse_sentinel_url("sentinel://sentinel-1").sentinels == [("sentinel-1", 26379)]


def test_only_sentinel_urls_are_taken_for_sentinels():
    assert is_sentinel_url(SENTINELS)
    assert not is_sentinel_url("redis://127.0.0.1:6379/0")
    assert not is_sentinel_url("filecache:///tmp/cache")


@pytest.mark.parametrize(
    "url",
    [
        "sentinel://10.0.0.1:26379/0;redis://10.0.0.2:6379/0",
        "sentinel://10.0.0.1:26379/0;",
        "sentinel://10.0.0.1:port/0",
        "sentinel://10.0.0.1:26379/zero",
    ],
)
def test_a_malformed_sentinel_url_stops_the_start_with_a_clear_message(url):
    with pytest.raises(ImproperlyConfigured, match=r"Sentinel URL|must be a number"):
        parse_sentinel_url(url)


def test_a_sentinel_result_backend_names_the_master_and_bounds_the_waits_on_the_sentinels():
    assert result_backend_sentinel_options(SENTINELS, "results") == {
        "master_name": "results",
        "sentinel_kwargs": {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": None},
    }


def test_a_plain_redis_result_backend_gets_no_sentinel_options():
    assert result_backend_sentinel_options("redis://127.0.0.1:6379/0", "results") == {}
    assert result_backend_sentinel_options("file:///tmp/results", "") == {}


@pytest.mark.parametrize("variable", ["CELERY_RESULT_BACKEND", "CACHE_URL"])
def test_sentinels_without_a_master_name_stop_the_start_with_a_clear_message(variable):
    with pytest.raises(ImproperlyConfigured, match=f"{variable} names Redis sentinels.*REDIS_SENTINEL_MASTER"):
        if variable == "CACHE_URL":
            cache_from_url(SENTINELS, "")
        else:
            result_backend_sentinel_options(SENTINELS, "")


def test_a_plain_redis_cache_keeps_its_bounded_waits_and_connections():
    assert cache_from_url("redis://127.0.0.1:6379/14?key_prefix=e2e", "") == {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/14",
        "KEY_PREFIX": "e2e",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            "CONNECTION_POOL_KWARGS": {"max_connections": 50},
            "IGNORE_EXCEPTIONS": True,
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }


def test_the_file_cache_is_left_as_it_is():
    assert cache_from_url("filecache:///tmp/cache", "") == {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": "/tmp/cache",
    }


def test_a_sentinel_cache_asks_the_sentinels_for_the_primary_with_the_same_bounds():
    config = cache_from_url(SENTINELS.replace("/0", "/1"), "results")
    cache = RedisCache(config["LOCATION"], {"OPTIONS": config["OPTIONS"]})

    # Building the client connects to nothing yet.
    pool = cache.client.get_client(write=True).connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "results" and pool.is_master
    assert pool.max_connections == 50
    assert pool.connection_kwargs["db"] == 1
    assert pool.connection_kwargs["socket_timeout"] == 2 and pool.connection_kwargs["socket_connect_timeout"] == 2
    sentinels = pool.sentinel_manager.sentinels
    addresses = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"]) for s in sentinels
    ]
    assert addresses == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-3", 26379)]
    assert {s.connection_pool.connection_kwargs["socket_timeout"] for s in sentinels} == {1}
    assert config["OPTIONS"]["IGNORE_EXCEPTIONS"] is True
    assert config["OPTIONS"]["SERIALIZER"] == "django_redis.serializers.json.JSONSerializer"


@pytest.mark.parametrize("url", ["redis://:secret@127.0.0.1:6379/1", SENTINELS.replace("/0", "/1")])
def test_the_cache_stores_json_never_pickle(url):
    # django-redis's default serializer is pickle (tests/test_cache_payloads.py plants one in Redis).
    assert cache_from_url(url, "results")["OPTIONS"]["SERIALIZER"] == "django_redis.serializers.json.JSONSerializer"


def test_sentinels_that_require_a_password_are_given_theirs_and_the_primary_the_url_s():
    # A master name of its own: django-redis keeps one pool per LOCATION for the whole process.
    url = "sentinel://:primary-secret@10.0.0.1:26379/1;sentinel://:primary-secret@10.0.0.2:26379/1"
    config = cache_from_url(url, "results-with-passwords", "sentinel-secret")
    cache = RedisCache(config["LOCATION"], {"OPTIONS": config["OPTIONS"]})

    pool = cache.client.get_client(write=True).connection_pool
    assert pool.connection_kwargs["password"] == "primary-secret"
    assert {s.connection_pool.connection_kwargs["password"] for s in pool.sentinel_manager.sentinels} == {
        "sentinel-secret"
    }
    backend_pool = celery_backend_on(url, "results-with-passwords", "sentinel-secret").client.connection_pool
    assert backend_pool.connection_kwargs["password"] == "primary-secret"
    assert {s.connection_pool.connection_kwargs["password"] for s in backend_pool.sentinel_manager.sentinels} == {
        "sentinel-secret"
    }


def test_sentinels_without_a_password_are_sent_none():
    assert "password" not in result_backend_sentinel_options(SENTINELS, "results")["sentinel_kwargs"]
    assert "password" not in cache_from_url(SENTINELS, "results")["OPTIONS"]["SENTINEL_KWARGS"]


def test_a_master_name_a_url_would_change_is_refused_for_the_cache():
    with pytest.raises(ImproperlyConfigured, match="lowercase"):
        cache_from_url(SENTINELS, "Results")


def celery_backend_on(url: str, master_name: str, sentinel_password: str = ""):
    app = Celery("sentinel-test", backend=url, set_as_current=False)
    app.conf.update(
        result_backend_transport_options=result_backend_sentinel_options(url, master_name, sentinel_password)
    )
    return app.backend


def test_celery_s_sentinel_backend_takes_the_master_name_and_the_bounded_sentinel_waits():
    backend = celery_backend_on(SENTINELS, "results")

    pool = backend.client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "results"
    assert {s.connection_pool.connection_kwargs["socket_connect_timeout"] for s in pool.sentinel_manager.sentinels} == {
        1
    }


def test_no_primary_known_is_an_unreachable_backend_within_a_second():
    # Sentinels that refuse: each is tried once, not with redis-py's default retries of seconds each.
    backend = celery_backend_on(
        f"sentinel://127.0.0.1:{unused_port()}/0;sentinel://127.0.0.1:{unused_port()}/0", "results"
    )

    started = time.monotonic()
    with pytest.raises(MasterNotFoundError) as raised:
        backend.client.get("celery-task-meta-x")

    assert time.monotonic() - started < 1
    assert is_backend_unreachable(raised.value)
