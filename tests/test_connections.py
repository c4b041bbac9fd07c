"""How the real gunicorn keeps connections: open for as many requests as the client sends by
default; GUNICORN_REQUESTS_PER_CONNECTION closes them after that many."""

import http.client
import socket

import pytest

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def started_web(make_module_stack, **env):
    """A stack of the module's with gunicorn started, given these settings."""
    stack = make_module_stack("rabbitmq", **env)
    stack.start_web()
    return stack


@pytest.fixture(scope="module")
def web(make_module_stack):
    return started_web(make_module_stack)


@pytest.fixture(scope="module")
def web_one_request_a_connection(make_module_stack):
    return started_web(make_module_stack, GUNICORN_REQUESTS_PER_CONNECTION="1")


@pytest.fixture(scope="module")
def web_three_requests_a_connection(make_module_stack):
    return started_web(make_module_stack, GUNICORN_REQUESTS_PER_CONNECTION="3")


def get_form(sock: socket.socket) -> http.client.HTTPResponse:
    """GET the form page on this socket, as a browser reusing its connection would."""
    sock.sendall(REQUEST)
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response


def test_a_connection_is_kept_alive_by_default(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        answers = [get_form(sock) for _ in range(5)]

        assert [answer.status for answer in answers] == [200] * 5
        assert {answer.getheader("Connection") for answer in answers} == {"keep-alive"}


def test_each_request_can_have_a_connection_of_its_own(web_one_request_a_connection):
    with socket.create_connection(("127.0.0.1", web_one_request_a_connection.port), timeout=10) as sock:
        response = get_form(sock)

        assert response.status == 200
        assert response.getheader("Connection") == "close"
        assert sock.recv(1) == b"", "the server closed the connection"


def test_a_connection_carries_as_many_requests_as_it_is_allowed(web_three_requests_a_connection):
    with socket.create_connection(("127.0.0.1", web_three_requests_a_connection.port), timeout=10) as sock:
        answers = [get_form(sock) for _ in range(3)]

        assert [answer.status for answer in answers] == [200, 200, 200]
        assert [answer.getheader("Connection") for answer in answers] == ["keep-alive", "keep-alive", "close"]
        assert sock.recv(1) == b"", "the server closed the connection"
