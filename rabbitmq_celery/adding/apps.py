from django.apps import AppConfig


class AddingConfig(AppConfig):
    name = "adding"
    verbose_name = "Adding strings"
