"""What the web processes read back from the shared cache (the real Redis) is JSON: a pickle
planted by someone who can reach Redis is never unpickled."""

import os
import pickle

import redis

from harness.processes import CACHE_REDIS_URL, HttpClient


class CreatesAFile:
    """A pickle that, when loaded, creates the file it names."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_planted_in_the_rate_limit_key_is_not_loaded_and_the_post_is_answered(make_stack, tmp_path):
    stack = make_stack("rabbitmq", SUBMISSIONS_RATE="5/m")
    stack.start_web()
    client = HttpClient(stack.base_url)
    first = client.session.post(
        f"{stack.base_url}/",
        data={"csrfmiddlewaretoken": client.csrf_token(), "first": "cats", "second": "dogs"},
        timeout=30,
        allow_redirects=False,
    )
    assert first.status_code == 302
    store = redis.Redis.from_url(CACHE_REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        # django-redis names a key PREFIX:VERSION:KEY; django-ratelimit's begin with rl:.
        [key] = store.keys(f"{stack.queue}:1:rl:*")
        marker = tmp_path / "unpickled"
        store.set(key, pickle.dumps(CreatesAFile(str(marker))), keepttl=True)

        second = client.session.post(
            f"{stack.base_url}/",
            data={"csrfmiddlewaretoken": client.csrf_token(), "first": "planted", "second": "dogs"},
            timeout=30,
            allow_redirects=False,
        )
        planted = store.get(key)
    finally:
        store.close()

    assert not os.path.exists(marker), "the web process unpickled the planted value"
    # The count it could not read starts again: the submission is taken, as any other.
    assert second.status_code == 302, second.text
    assert planted == pickle.dumps(CreatesAFile(str(marker)))
