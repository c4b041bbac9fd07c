import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self):
        from django.conf import settings
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from .broker import masked_url
        from .staff_logins import staff_login_end, staff_login_start

        user_logged_in.connect(staff_login_start, dispatch_uid="staff_login_start")
        user_logged_out.connect(staff_login_end, dispatch_uid="staff_login_end")

        from web_app.celery import app

        if app.conf.broker_url.startswith("filesystem://"):
            # The embedded broker's folders, which kombu's filesystem transport expects to exist.
            for folder in ("queue", "control", "results"):
                (settings.EMBEDDED_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)

        logger.info(
            "Sending tasks to broker %s, reading results from %s",
            masked_url(app.conf.broker_url),
            masked_url(app.conf.result_backend),
        )
