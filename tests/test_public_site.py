"""A site the public can reach, on the real stack: floods slowed per client, the admin's login
throttled, the task queue bounded; each visitor's submissions their own."""

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from harness.external_services import rabbitmqctl
from harness.processes import HttpClient, Stack, wait_until

FLOOD_POSTS = 120
RATE = "10/m"


def post_form(client: HttpClient, token: str, first: str, **kwargs) -> requests.Response:
    data = {"csrfmiddlewaretoken": token, "first": first, "second": "dogs"}
    return client.session.post(client.base_url + "/", data=data, timeout=30, allow_redirects=False, **kwargs)


def test_a_flood_from_one_client_gets_429s_while_another_client_submits(make_stack):
    stack = make_stack("rabbitmq", SUBMISSIONS_RATE=RATE)
    stack.start_worker()
    stack.start_web()
    flooder = HttpClient(stack.base_url)
    token = flooder.csrf_token()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda number: post_form(flooder, token, f"flood{number}"), range(FLOOD_POSTS)))
    other = HttpClient(stack.base_url, source_address="127.0.0.2")
    other_page = other.submit("calm", "dogs")

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {302: 10, 429: FLOOD_POSTS - 10}, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"Please try again in {retry_after} seconds." in refused.text
    assert other_page.status_code == 200 and "calm es dogs" in other_page.text
    accepted = [f"flood{number} es dogs" for number, answer in enumerate(answers) if answer.status_code == 302]
    assert sorted(stack.results_lines()) == sorted([*accepted, "calm es dogs"])
    assert len(stack.submissions()) == 11


def test_a_client_cannot_pass_the_limit_by_writing_x_forwarded_for(make_stack):
    stack = make_stack("rabbitmq", SUBMISSIONS_RATE="3/m")
    stack.start_worker()
    stack.start_web()
    client = HttpClient(stack.base_url)
    token = client.csrf_token()

    answers = [
        post_form(client, token, f"spoof{number}", headers={"X-Forwarded-For": f"198.51.100.{number}"})
        for number in range(8)
    ]

    assert [answer.status_code for answer in answers] == [302] * 3 + [429] * 5


def test_the_admin_refuses_a_guesser_even_the_right_password(make_stack):
    stack = make_stack("rabbitmq")
    stack.manage("migrate", "--noinput")
    stack.manage(
        "createsuperuser",
        "--noinput",
        env={
            **stack.env,
            "DJANGO_SUPERUSER_USERNAME": "admin",
            "DJANGO_SUPERUSER_PASSWORD": "the-right-one",
            "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        },
    )
    stack.start_web()
    guesser = HttpClient(stack.base_url)

    def log_in(password):
        page = guesser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the login page carries a CSRF token"
        data = {"csrfmiddlewaretoken": token.group(1), "username": "admin", "password": password, "next": "/admin/"}
        return guesser.session.post(stack.base_url + "/admin/login/", data=data, timeout=30, allow_redirects=False)

    guesses = [log_in(f"guess{number}").status_code for number in range(6)]
    right_one = log_in("the-right-one")

    assert guesses[:4] == [200] * 4 and guesses[4:] == [429, 429]
    assert right_one.status_code == 429
    assert "Too many failed logins (5 in a row) came from your address or named this account" in right_one.text

    stack.manage("axes_reset")

    assert log_in("the-right-one").status_code == 302


def submit_without_worker(stack: Stack, numbers: range) -> list[requests.Response]:
    client = HttpClient(stack.base_url)
    token = client.csrf_token()
    return [post_form(client, token, f"queued{number}") for number in numbers]


def test_past_submissions_max_queued_a_post_gets_503_and_each_accepted_one_is_written_once(make_stack):
    stack = make_stack("rabbitmq", SUBMISSIONS_MAX_QUEUED="20", RESULT_TIMEOUT="0.2", HEALTH_TIMEOUT="0.2")
    stack.start_web()

    answers = submit_without_worker(stack, range(40))

    assert [answer.status_code for answer in answers] == [302] * 20 + [503] * 20
    assert "Too many submissions are waiting for a worker, so nothing was sent." in answers[-1].text
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert len(stack.submissions()) == 20
    stack.start_worker()
    stack.start_collector()
    stack.collect_all_results()
    assert sorted(stack.results_lines()) == sorted(f"queued{number} es dogs" for number in range(20))


def test_rabbitmqs_own_bound_refuses_a_publish_that_the_count_let_through(make_stack):
    """The policy the setup script sets, lowered for this queue: the broker's refusal is a 503 too."""
    stack = make_stack("rabbitmq", RESULT_TIMEOUT="0.2", HEALTH_TIMEOUT="0.2")
    policy = f"bound-{stack.queue}"
    definition = '{"max-length":5,"overflow":"reject-publish"}'
    rabbitmqctl(
        "set_policy", "-p", "rabbit", "--priority", "10", "--apply-to", "queues", policy, f"^{stack.queue}$", definition
    )
    try:
        stack.start_web()
        # The policy reaches the queue once it exists; the web app declares it with its first post.
        answers = submit_without_worker(stack, range(1))
        wait_until(
            lambda: policy in rabbitmqctl("list_queues", "-p", "rabbit", "name", "policy"),
            10,
            what="the policy applied",
        )
        answers += submit_without_worker(stack, range(1, 10))
    finally:
        rabbitmqctl("clear_policy", "-p", "rabbit", policy)

    assert [answer.status_code for answer in answers] == [302] * 5 + [503] * 5
    assert "Too many submissions are waiting for a worker, so nothing was sent." in answers[-1].text
    assert len(stack.submissions()) == 5
    stack.start_worker()
    stack.start_collector()
    stack.collect_all_results()
    assert sorted(stack.results_lines()) == sorted(f"queued{number} es dogs" for number in range(5))
