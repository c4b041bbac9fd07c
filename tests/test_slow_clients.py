"""Slow and idle clients against the real gunicorn: they cannot starve a real client, and slow headers are cut off."""

import socket
from contextlib import ExitStack

import pytest
import requests

from harness.processes import wait_until

SLOW_SOCKETS = 300
REAL_REQUESTS = 20
# A real client's patience for one GET /: far above a normal answer (milliseconds), far below
# the minutes that slow clients can hold a server that gives each of them a thread.
REAL_CLIENT_TIMEOUT = 10


@pytest.fixture(scope="module")
def web(make_module_stack):
    stack = make_module_stack("rabbitmq", GUNICORN_KEEPALIVE="2")
    stack.start_worker()
    stack.start_web()
    return stack


def open_slow_socket(stack, exits: ExitStack, request_line: bytes) -> socket.socket:
    sock = exits.enter_context(socket.create_connection(("127.0.0.1", stack.port), timeout=10))
    if request_line:
        sock.sendall(request_line)
    return sock


@pytest.mark.parametrize("request_line", [b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", b""], ids=["slow-headers", "idle"])
def test_a_real_client_is_answered_while_hundreds_of_slow_clients_are_connected(web, request_line):
    with ExitStack() as exits:
        slow = [open_slow_socket(web, exits, request_line) for _ in range(SLOW_SOCKETS)]
        for sock in slow[: SLOW_SOCKETS // 2]:
            sock.sendall(b"X-Slow: 1\r\n" if request_line else b"G")

        statuses = [
            requests.get(web.base_url + "/", timeout=REAL_CLIENT_TIMEOUT).status_code for _ in range(REAL_REQUESTS)
        ]

    assert statuses == [200] * REAL_REQUESTS


def test_a_client_that_does_not_finish_its_headers_is_disconnected(web):
    # GUNICORN_KEEPALIVE=2: the time a client has to send a request's line and headers.
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        def closed():
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                return sock.recv(1, socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        wait_until(closed, timeout=20, interval=0.5, what="the server closing a connection whose headers never end")
