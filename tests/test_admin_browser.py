"""The Django admin in Chromium, logged in with an account made by `make manage ARGS="createsuperuser"`."""

import re

from playwright.sync_api import expect

from harness.processes import HttpClient

from .chromium import new_page
from .test_makefile import clean_environment, make, write_env_file

USERNAME, PASSWORD = "admin", "a-long-test-password"


def test_an_admin_made_with_make_manage_finds_submissions_and_cannot_change_them(make_stack, browser, tmp_path):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    stack.start_web()
    for first, second in [("cats", "dogs"), ("birds", "fish")]:
        HttpClient(stack.base_url).submit(first, second)
    env_file = write_env_file(
        tmp_path / "env",
        **{name: stack.env[name] for name in ("DJANGO_DATABASE_PATH", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")},
    )
    created = make(
        "manage",
        f"ENV_FILE={env_file}",
        "ARGS=createsuperuser --noinput",
        env=clean_environment(
            DJANGO_SUPERUSER_USERNAME=USERNAME,
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
            DJANGO_SUPERUSER_EMAIL="admin@example.com",
        ),
    )
    assert created.returncode == 0, created.stderr
    assert "Superuser created successfully." in created.stdout

    page = new_page(browser)
    page.goto(stack.base_url + "/admin/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#submissions-submission").get_by_role("link", name="Submissions").click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile("Add submission"))).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)

    page.get_by_role("textbox").fill("birds es")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("birds es fish")
    page.goto(stack.base_url + "/admin/submissions/submission/")
    page.locator("#changelist-filter").get_by_role("link", name="Done").click()
    expect(rows).to_have_count(2)
    page.locator("#changelist-filter").get_by_role("link", name="Pending").click()
    expect(rows).to_have_count(0)

    page.goto(stack.base_url + "/admin/submissions/submission/")
    rows.filter(has_text="cats es dogs").get_by_role("link").first.click()
    expect(page.locator("#content")).to_contain_text("cats es dogs")
    expect(page.locator("form input[type=text], form textarea, form select")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Save"))).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)

    forbidden = page.goto(stack.base_url + "/admin/submissions/submission/add/")
    assert forbidden.status == 403
    assert [tuple(row)[:2] for row in stack.submissions()] == [("cats", "dogs"), ("birds", "fish")]
