from django.apps import AppConfig
from django.conf import settings


class AddingConfig(AppConfig):
    name = "adding"
    verbose_name = "Adding strings"

    def ready(self):
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The embedded broker's folders, which kombu's filesystem transport expects to exist.
            for folder in ("queue", "control", "results"):
                (settings.EMBEDDED_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
