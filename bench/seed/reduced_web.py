"""The seed's loop in a one-file Django app: the benchmark's "Django, reduced" reference line.

A form view that sends `adding_taski` by name, spins on `AsyncResult.ready()`
with no sleep and no deadline, writes the result with open(..., "w+") and
answers with the page itself: no model, no row saved, no redirect. Served by
`gunicorn reduced_web` with 4 sync workers. It shows what the seed's loop costs
with less of the web layer around it; the seed itself is `seed_site`.
"""

import os
from pathlib import Path

from celery import Celery
from django import forms
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.shortcuts import render
from django.urls import path

HERE = Path(__file__).resolve().parent
OUT_DIR = Path(os.environ.get("SEED_OUT_DIR", HERE))

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["DJANGO_SECRET_KEY"],
    ALLOWED_HOSTS=["localhost", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [HERE / "templates"],
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ],
            },
        }
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": OUT_DIR / "db.sqlite3"}},
    STATIC_URL="static/",
    USE_TZ=True,
)

app = Celery(
    "web",
    broker=os.environ["CELERY_BROKER_URL"],
    backend=os.environ["CELERY_RESULT_BACKEND"],
)
# Only routing: the seed used the default queue, the benchmark gives it one of its own.
app.conf.task_default_queue = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")


class AddingForm(forms.Form):
    first = forms.CharField(max_length=200)
    second = forms.CharField(max_length=200)


def index(request):
    form = AddingForm(request.POST or None)
    result_text = None
    if request.method == "POST" and form.is_valid():
        result = app.send_task("adding_taski", args=[form.cleaned_data["first"], form.cleaned_data["second"]])
        while not result.ready():
            pass
        result_text = result.get()
        with open(OUT_DIR / "results.txt", "w+") as results_file:
            results_file.write(result_text)
    return render(request, "reduced.html", {"form": form, "result": result_text})


urlpatterns = [path("", index)]

application = get_wsgi_application()
