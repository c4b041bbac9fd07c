"""The worker's `conf` and `report` remote control commands, with every broker and backend URL masked.

Celery censors a setting by its name (broker_url, result_backend, ...), but read from
Django's settings with the CELERY_ namespace they are named CELERY_BROKER_URL and so on,
which its filter does not recognise: `celery inspect conf`, and Flower's worker pages
that ask the same command, would show the broker's password. These commands replace
Celery's own of the same names (see "Writing your own remote control commands" in
Celery's workers guide) and censor each Celery setting under its plain name.
"""

from celery.app.utils import filter_hidden_settings
from celery.utils.serialization import jsonify, strtobool
from celery.utils.text import pretty
from celery.worker.control import inspect_command
from kombu.utils.encoding import safe_repr

NAMESPACE = "CELERY_"


def censored_settings(settings: dict) -> dict:
    """The settings with Celery's censoring applied to the namespaced ones under their plain names."""
    censored = filter_hidden_settings(settings)
    plain_names = {key[len(NAMESPACE) :].lower(): key for key in settings if key.startswith(NAMESPACE)}
    plain = filter_hidden_settings({name: settings[key] for name, key in plain_names.items()})
    return {**censored, **{plain_names[name]: value for name, value in plain.items()}}


@inspect_command(alias="dump_conf", signature="[include_defaults=False]", args=[("with_defaults", strtobool)])
def conf(state, with_defaults=False, **kwargs):
    """List configuration, passwords masked."""
    table = censored_settings(state.app.conf.table(with_defaults=with_defaults, censored=False))
    return jsonify(
        table, keyfilter=lambda key: isinstance(key, str) and not key.startswith("__"), unknown_type_filter=safe_repr
    )


@inspect_command()
def report(state):
    """Information about the Celery installation for bug reports, passwords masked."""
    app = state.app
    settings = censored_settings(app.conf.table(censored=False))
    human_settings = "\n".join(f"{key}: {pretty(value, width=50)}" for key, value in settings.items())
    return {"ok": app.bugreport().replace(app.conf.humanize(), human_settings)}
