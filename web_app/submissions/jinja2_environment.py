"""The Jinja2 environment of the submission pages: Django's static and url, and the formatting filters.

The pages are Jinja2 rather than Django templates because they are the hot path:
the form page renders the history on every visit, several times faster this way.
"""

import functools
from collections.abc import Callable

from django.templatetags.static import static as static_url
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language
from jinja2 import Environment

from .formatting import seconds


def static(path: str) -> str:
    return static_once(path, get_script_prefix())


@functools.lru_cache(maxsize=64)
def static_once(path: str, script_prefix: str) -> str:
    """A static file's URL, remembered: the storage's manifest of hashed names is read once, at
    start, and looking a name up in it cost a tenth of the form page."""
    return static_url(path)


def url(name: str, *args) -> str:
    return reverse_once(name, args, get_script_prefix(), get_urlconf(), get_language())


@functools.lru_cache(maxsize=256)
def reverse_once(name: str, args: tuple, script_prefix: str, urlconf: str | None, language: str | None) -> str:
    """reverse(), remembered for what its answer depends on besides the name and arguments: each page
    links to the form and its own URLs, and reverse() costs a tenth of a submission's page."""
    return reverse(name, args=args)


# An argument that stands for any other in a URL reversed once: no URL of the site holds these digits.
URL_ARGUMENT_MARKER = 7_340_915_862_031_457


def url_maker(name: str) -> Callable[[int], str]:
    """`name`'s URL for any integer argument, from one reverse() call instead of one a link.

    A page of the history links each row to its submission, and reverse() costs
    about as much as the rest of the row; the URLs differ only by the number.
    """
    marker = str(URL_ARGUMENT_MARKER)
    before, found, after = url(name, URL_ARGUMENT_MARKER).rpartition(marker)
    if not found:
        raise ValueError(f"URL {name!r} does not hold its argument as written")
    return lambda number: f"{before}{int(number)}{after}"


def environment(**options) -> Environment:
    # Django's Jinja2 backend passes autoescape=True among the options.
    env = Environment(**options)  # noqa: S701
    env.globals.update(static=static, url=url, url_maker=url_maker)
    env.filters["seconds"] = seconds
    return env
