"""gunicorn settings; every value can be overridden from the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# gevent's workers, not threads, carry the connections: a slow or idle client, and a request
# waiting for its task, each cost one greenlet, and a process holds `worker_connections` of
# them, so hundreds of slow clients cannot take the connections a real client needs (the
# threaded worker gives each such client a thread while it reads its headers, without a
# deadline). gunicorn documents async workers for clients that no buffering proxy shields.
# "gthread" (with GUNICORN_THREADS threads) fits behind a buffering proxy such as nginx.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# With gthread, each process takes connections whether or not a thread is free, so one
# process may hold all the waiting submissions: 64 threads each keep the form page answering
# with 32 submissions waiting (the Performance section's benchmark).
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# Seconds a kept-alive connection may wait for its next request; the gevent worker also
# gives a client this long to send a request's line and headers, then closes the connection.
# gunicorn bounds no body's time: REQUEST_BODY_TIMEOUT does (submissions/middleware.py).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Seconds a worker process may stay silent before the master restarts it. Its main loop
# keeps signalling while requests are served, so this is no per-request limit:
# RESULT_TIMEOUT bounds a request's wait for its task.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# One line a request on standard output with GUNICORN_ACCESSLOG=- (or a file's path); off by
# default, as in gunicorn, a proxy in front usually keeping that log. It cost 0.3 ms of the web
# processes' CPU a cycle, 3 % (bench/README.md, "The tail").
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None

# Requests a connection may carry before the server closes it; 0, the default, keeps it open as
# long as the client keeps using it (within `keepalive`). A kept-alive connection stays with the
# process that accepted it, and closed-loop browsers that arrive together split unevenly between
# processes for as long as they stay: under 16 of them, 4 on one process had median cycles of
# 61-64 ms and 12 on the other 184-202 ms. With 1, as with gunicorn's sync workers, each request
# goes to the least busy process and the browsers' medians were within 5 % of each other; but
# every page then needs a new connection, which waits in the accept queue behind everybody's
# reconnections: with 256 submissions waiting, a visitor's form page p99 went from 55 to 611 ms
# (bench/README.md, "The tail").
requests_per_connection = int(os.environ.get("GUNICORN_REQUESTS_PER_CONNECTION", "0"))


# gunicorn's control socket (gunicornc) defaults to one path per user, which every instance on
# the machine would share, and stopping one would remove another's: the project does not use it.
# https://gunicorn.org/reference/settings/#control_socket_disable
control_socket_disable = True


def pre_request(worker, req):
    """Close the connection after this request once it has carried `requests_per_connection`."""
    if requests_per_connection and req.req_number >= requests_per_connection:
        # gunicorn's own flag for a request that ends its connection ("Connection: close").
        req.must_close = True


def post_worker_init(worker):
    """Finish the recordings a crashed process of this host left in doubt, before serving.

    A host of its own (RESULTS_HOST) is the only one that looks in its results file, so a
    process restarted after a crash looks at once rather than at the host's next recording.
    """
    from django.db import connections

    from submissions.services import finish_interrupted_recordings

    finish_interrupted_recordings()
    connections.close_all()


def worker_exit(server, worker):
    """Finalize what the last requests left behind while the worker's event loop still runs.

    Celery's AsyncResult unsubscribes from its result channel when it is collected; left to
    the interpreter's teardown under gevent, that fails with "greenlet is being finalized".
    """
    import gc

    gc.collect()
