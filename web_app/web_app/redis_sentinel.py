"""Redis under Sentinel, from the URL form of Celery's Sentinel backend: `sentinel://HOST:PORT/DB;sentinel://...`.

Settings read both the result backend's URL (CELERY_RESULT_BACKEND) and the cache's (CACHE_URL)
here, so that either can be a plain Redis, files, or Redis replicated under Sentinel, with the
same master name (REDIS_SENTINEL_MASTER) and bounded waits.
"""

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

SENTINEL_SCHEME = "sentinel"
SENTINEL_URL_SEPARATOR = ";"
DEFAULT_SENTINEL_PORT = 26379

# How a sentinel is asked for the primary: a second to connect and to answer (Celery passes no timeout
# of its own, so a sentinel that never answers would hold a request for ever), and one try each, the next
# sentinel being the retry: redis-py's default ten tries cost about 3 s for each sentinel that is down.
SENTINEL_KWARGS: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": None}

# The cache's Redis connections, alone or under Sentinel: bounded waits and connections, and a Redis out
# of reach counts nothing (the request meets the result store's own clear page). Values are JSON, not
# django-redis's default pickle: whoever can write a key in Redis must not run code in the web processes.
# https://github.com/jazzband/django-redis#configure-as-cache-backend
# https://github.com/jazzband/django-redis#pluggable-serializer
CACHE_REDIS_OPTIONS: dict[str, Any] = {
    "SOCKET_CONNECT_TIMEOUT": 2,
    "SOCKET_TIMEOUT": 2,
    "CONNECTION_POOL_KWARGS": {"max_connections": 50},
    "IGNORE_EXCEPTIONS": True,
    "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
}


@dataclass(frozen=True)
class SentinelUrl:
    """What a sentinel:// URL names: the sentinels, and the database and password on the primary."""

    sentinels: list[tuple[str, int]]
    db: int
    password: str | None


def is_sentinel_url(url: str) -> bool:
    """True for a URL of sentinels, `sentinel://HOST:PORT/DB`, or several joined by `;`."""
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The sentinels of a `;`-joined sentinel:// URL, with the first one's database and password, as Celery reads them."""
    chunks = [chunk.strip() for chunk in url.split(SENTINEL_URL_SEPARATOR)]
    sentinels = []
    for chunk in chunks:
        parts = urlsplit(chunk)
        try:
            port = parts.port or DEFAULT_SENTINEL_PORT
        except ValueError as exc:
            raise ImproperlyConfigured(f"{chunk!r} in a Sentinel URL: the port is not a number.") from exc
        if parts.scheme != SENTINEL_SCHEME or not parts.hostname:
            raise ImproperlyConfigured(
                f"{chunk!r} in a Sentinel URL: give each sentinel as sentinel://HOST:PORT/DB, joined by ';'."
            )
        sentinels.append((parts.hostname, port))
    first = urlsplit(chunks[0])
    database = first.path.strip("/") or "0"
    if not database.isdigit():
        raise ImproperlyConfigured(f"{chunks[0]!r}: the database must be a number.")
    password = unquote(first.password) if first.password else None
    return SentinelUrl(sentinels=sentinels, db=int(database), password=password)


def required_master_name(master_name: str, variable: str) -> str:
    """The master name, or ImproperlyConfigured when `variable` names sentinels and it is unset."""
    if not master_name:
        raise ImproperlyConfigured(
            f"{variable} names Redis sentinels (sentinel://...), so REDIS_SENTINEL_MASTER must name "
            "the primary they monitor (`sentinel monitor NAME ...` in their configuration)."
        )
    return master_name


def sentinel_kwargs(sentinel_password: str) -> dict[str, Any]:
    """How the sentinels are asked: SENTINEL_KWARGS, with their own password (REDIS_SENTINEL_PASSWORD) when
    they require one. The password of a sentinel:// URL is the primary's, as Celery and django-redis read it."""
    kwargs = dict(SENTINEL_KWARGS)
    if sentinel_password:
        kwargs["password"] = sentinel_password
    return kwargs


def result_backend_sentinel_options(backend_url: str, master_name: str, sentinel_password: str = "") -> dict[str, Any]:
    """Celery's result backend transport options for a sentinel:// backend (master name, bounded sentinel
    waits, the sentinels' password); none for any other."""
    if not is_sentinel_url(backend_url):
        return {}
    return {
        "master_name": required_master_name(master_name, "CELERY_RESULT_BACKEND"),
        "sentinel_kwargs": sentinel_kwargs(sentinel_password),
    }


def sentinel_cache(cache_url: str, master_name: str, sentinel_password: str = "") -> dict[str, Any]:
    """The django-redis cache of a sentinel:// URL: its own Sentinel client, asking the sentinels for the primary."""
    master_name = required_master_name(master_name, "CACHE_URL")
    # django-redis takes the master's name from the host of LOCATION, which a URL lowercases.
    if urlsplit(f"redis://{master_name}/0").hostname != master_name:
        raise ImproperlyConfigured(
            f"REDIS_SENTINEL_MASTER={master_name!r}: for CACHE_URL under Sentinel the name must be a "
            "URL's host name in lowercase (letters, digits, '-', '_', '.')."
        )
    parsed = parse_sentinel_url(cache_url)
    # https://github.com/jazzband/django-redis#use-the-sentinel-connection-factory
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": parsed.sentinels,
        "SENTINEL_KWARGS": sentinel_kwargs(sentinel_password),
    }
    if parsed.password:
        options["PASSWORD"] = parsed.password
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{master_name}/{parsed.db}",
        "OPTIONS": options,
    }


def cache_from_url(cache_url: str, master_name: str, sentinel_password: str = "") -> dict[str, Any]:
    """The CACHES entry of CACHE_URL: Redis under Sentinel, or what django-environ makes of any other URL; a
    Redis one, either way, with CACHE_REDIS_OPTIONS."""
    cache = (
        sentinel_cache(cache_url, master_name, sentinel_password)
        if is_sentinel_url(cache_url)
        else environ.Env.cache_url_config(cache_url)
    )
    if cache["BACKEND"] == "django_redis.cache.RedisCache":
        cache.setdefault("OPTIONS", {}).update(copy.deepcopy(CACHE_REDIS_OPTIONS))
    return cache
