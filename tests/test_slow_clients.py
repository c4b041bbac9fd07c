"""Slow and idle clients against the real gunicorn: they cannot starve a real client, and slow headers are cut off."""

import socket
import time
from contextlib import ExitStack
from urllib.parse import urlencode

import pytest
import requests

from harness.processes import HttpClient, wait_until

SLOW_SOCKETS = 300
REAL_REQUESTS = 20
# A real client's patience for one GET /: far above a normal answer (milliseconds), far below
# the minutes that slow clients can hold a server that gives each of them a thread.
REAL_CLIENT_TIMEOUT = 10
# The seconds a form post's body has to arrive (REQUEST_BODY_TIMEOUT); the connection may then
# take up to GUNICORN_KEEPALIVE (2) more, while gunicorn waits for the rest of the body to skip it.
BODY_TIMEOUT = 2


@pytest.fixture(scope="module")
def web(make_module_stack):
    stack = make_module_stack("rabbitmq", GUNICORN_KEEPALIVE="2", REQUEST_BODY_TIMEOUT=str(BODY_TIMEOUT))
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


def test_a_form_post_whose_body_never_comes_is_cut_off_while_a_visitor_is_served(web):
    browser = HttpClient(web.base_url)
    body = urlencode({"csrfmiddlewaretoken": browser.csrf_token(), "first": "cats", "second": "dogs"}).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\n"
        f"Cookie: csrftoken={browser.session.cookies['csrftoken']}\r\n"
        f"Referer: {web.base_url}/\r\nOrigin: {web.base_url}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    # Far above what the server may take (the body's timeout and gunicorn's keepalive), far below forever.
    patience = 20
    with socket.create_connection(("127.0.0.1", web.port), timeout=patience) as sock:
        sock.sendall(head + body[:1])
        started = time.monotonic()

        visitor = HttpClient(web.base_url)
        page = visitor.submit("calm", "dogs", timeout=REAL_CLIENT_TIMEOUT)
        assert page.status_code == 200 and "calm es dogs" in page.text

        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except TimeoutError:
            pytest.fail(f"the connection was still open after {patience} s, answered {answer[:40]!r}")
        except ConnectionResetError:
            pass
        waited = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 2 seconds" in answer
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 2 + 3, f"closed after {waited:.1f} s"
    assert "cats es dogs" not in web.results_lines()
