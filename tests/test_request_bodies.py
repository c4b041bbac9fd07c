"""Request bodies the site never asks for, against the real gunicorn: refused before they reach the disk."""

import select
import socket
from pathlib import Path

import pytest

from harness.external_services import declare_queue, existing_queue_depth
from harness.processes import RABBITMQ_URL, HttpClient

UPLOAD_SIZE = 200 * 1024 * 1024
CHUNK = b"x" * (256 * 1024)
BOUNDARY = "hostile-boundary"
# Django keeps an upload under 2.5 MB in memory; a bigger one it spools to a file in TMPDIR.
SPOOLED_THRESHOLD = 1024 * 1024


@pytest.fixture(scope="module")
def web_without_worker(make_module_stack):
    """The web app on RabbitMQ and Redis with no worker, its temporary files in a folder of its own."""
    stack = make_module_stack(RESULT_TIMEOUT="1")
    stack.extra_env["TMPDIR"] = str(stack.root / "tmp")
    Path(stack.extra_env["TMPDIR"]).mkdir()
    declare_queue(RABBITMQ_URL, stack.queue)
    stack.start_web()
    return stack


def bytes_under(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def multipart_body(token: str):
    """The fields of a valid submission, then a 200 MB file part, produced a chunk at a time."""
    for name, value in (("csrfmiddlewaretoken", token), ("first", "cats"), ("second", "dogs")):
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = 0
    while sent < UPLOAD_SIZE:
        yield CHUNK
        sent += len(CHUNK)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def body_length(token: str) -> int:
    return sum(len(chunk) for chunk in multipart_body(token) if chunk is not CHUNK) + UPLOAD_SIZE


def stream_upload(stack, browser: HttpClient, watch_folder: Path) -> tuple[bytes, int]:
    """POST the 200 MB multipart body over a raw socket, stopping when the server answers.

    Returns the answer's first bytes and the most bytes seen in watch_folder meanwhile.
    """
    token = browser.csrf_token()
    cookie = f"csrftoken={browser.session.cookies['csrftoken']}"
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\nCookie: {cookie}\r\n"
        f"Referer: {stack.base_url}/\r\nOrigin: {stack.base_url}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {body_length(token)}\r\n\r\n"
    ).encode()
    most_spooled = 0
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        sock.sendall(head)
        for number, chunk in enumerate(multipart_body(token)):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            if number % 16 == 0:
                most_spooled = max(most_spooled, bytes_under(watch_folder))
        answer = b""
        try:
            while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
                answer += data
        except ConnectionResetError:
            pass
    return answer, max(most_spooled, bytes_under(watch_folder))


def test_a_200_mb_multipart_upload_is_refused_before_it_reaches_the_disk(web_without_worker):
    stack = web_without_worker
    tmp = Path(stack.extra_env["TMPDIR"])
    saved_before = len(stack.submissions())

    answer, most_spooled = stream_upload(stack, HttpClient(stack.base_url), tmp)

    assert answer.startswith(b"HTTP/1.1 415 "), answer[:200]
    assert most_spooled < SPOOLED_THRESHOLD, f"{most_spooled} bytes spooled to {tmp}"
    assert len(stack.submissions()) == saved_before, "nothing saved"
    assert existing_queue_depth(stack.queue).total == 0, "nothing queued"


@pytest.mark.parametrize(
    "content_type, body",
    [
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="first"\r\n\r\ncats\r\n--{BOUNDARY}--\r\n',
        ),
        ("application/json", '{"first": "cats", "second": "dogs"}'),
        ("text/plain", "first=cats&second=dogs"),
    ],
    ids=["multipart-without-files", "json", "text"],
)
def test_a_post_that_is_not_an_urlencoded_form_is_415_with_a_message(web_without_worker, content_type, body):
    browser = HttpClient(web_without_worker.base_url)
    token = browser.csrf_token()
    saved_before = len(web_without_worker.submissions())

    response = browser.session.post(
        web_without_worker.base_url + "/",
        data=body.encode(),
        headers={"Content-Type": content_type, "X-CSRFToken": token},
        timeout=30,
    )

    assert response.status_code == 415
    assert "accepts only form posts (application/x-www-form-urlencoded)" in response.text
    assert len(web_without_worker.submissions()) == saved_before


def test_the_form_still_works(web_without_worker):
    page = HttpClient(web_without_worker.base_url).submit("still", "works")

    assert page.status_code == 200
    assert "still" in [row["first"] for row in web_without_worker.submissions()]
