import pytest
from django.contrib.auth.models import User
from django.test import Client

from submissions.models import Submission

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/json", "text/plain", "application/octet-stream"],
)
def test_a_body_that_is_not_an_urlencoded_form_is_415_and_saves_nothing(content_type):
    body = b'--x\r\nContent-Disposition: form-data; name="first"; filename="a"\r\n\r\ncats\r\n--x--\r\n'

    response = Client().post("/", body, content_type=content_type)

    assert response.status_code == 415
    assert "accepts only form posts (application/x-www-form-urlencoded)" in response.content.decode()
    assert not Submission.objects.exists()


def test_a_post_without_a_body_reaches_the_form_whatever_its_content_type():
    response = Client().generic("POST", "/", b"", content_type="text/plain")

    assert response.status_code == 400
    assert "Enter some text, not only spaces." in response.content.decode()


def test_the_admin_login_posts_its_form(client):
    User.objects.create_superuser("admin", "admin@example.com", "s3cret-pass")

    response = client.post("/admin/login/", {"username": "admin", "password": "s3cret-pass"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
