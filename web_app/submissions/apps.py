import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self):
        from kombu.utils.url import maybe_sanitize_url

        from web_app.celery import app

        logger.info(
            "Sending tasks to broker %s, reading results from %s",
            maybe_sanitize_url(app.conf.broker_url),
            maybe_sanitize_url(app.conf.result_backend),
        )
