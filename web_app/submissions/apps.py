import logging
from datetime import timedelta

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def staff_session_expires_soon(sender, request, user, **kwargs):
    """A login's session lasts ADMIN_SESSION_SECONDS, not the two weeks a visitor's does."""
    from django.conf import settings

    # A timedelta, not seconds: an expiry fixed at the login, which later requests do not push back.
    request.session.set_expiry(timedelta(seconds=settings.ADMIN_SESSION_SECONDS))


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self):
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_in
        from kombu.utils.url import maybe_sanitize_url

        user_logged_in.connect(staff_session_expires_soon, dispatch_uid="staff_session_expires_soon")

        from web_app.celery import app

        if app.conf.broker_url.startswith("filesystem://"):
            # The embedded broker's folders, which kombu's filesystem transport expects to exist.
            for folder in ("queue", "control", "results"):
                (settings.EMBEDDED_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)

        logger.info(
            "Sending tasks to broker %s, reading results from %s",
            maybe_sanitize_url(app.conf.broker_url),
            maybe_sanitize_url(app.conf.result_backend),
        )
