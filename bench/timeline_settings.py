"""The project's settings, with bench/timeline.py's middleware timing each POST (first, so it times the whole)."""

from web_app import settings
from web_app.settings import *  # noqa: F403

MIDDLEWARE = ["timeline.TimelineMiddleware", *settings.MIDDLEWARE]
