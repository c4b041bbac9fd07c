"""gunicorn settings; every value can be overridden from the environment."""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads, not processes, carry the waiting requests: a request blocked on a
# slow task costs one idle thread, so the form page stays fast meanwhile.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Each process takes connections whether or not a thread is free, so one process may
# hold all the waiting submissions: 64 threads each keep the form page answering with
# 32 submissions waiting (measured by `make bench`), at the cost of idle threads only.
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# Seconds a worker process may stay silent before the master restarts it. The threaded
# worker's main loop keeps signalling while its threads serve requests, so this is no
# per-request limit: RESULT_TIMEOUT bounds a request's wait for its task.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user, which every instance on
# the machine would share, and stopping one would remove another's: the project does not use it.
# https://gunicorn.org/reference/settings/#control_socket_disable
control_socket_disable = True
