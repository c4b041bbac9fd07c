"""The Jinja2 environment of the submission pages: Django's static and url, and the formatting filters.

The pages are Jinja2 rather than Django templates because they are the hot path:
the form page renders the history on every visit, several times faster this way.
"""

from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment

from .formatting import seconds


def url(name: str, *args) -> str:
    return reverse(name, args=args)


def environment(**options) -> Environment:
    # Django's Jinja2 backend passes autoescape=True among the options.
    env = Environment(**options)  # noqa: S701
    env.globals.update(static=static, url=url)
    env.filters["seconds"] = seconds
    return env
