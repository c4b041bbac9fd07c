from rabbitmq_celery.control import censored_settings


def test_namespaced_broker_and_backend_urls_are_masked_and_other_settings_kept():
    settings = {
        "CELERY_BROKER_URL": "amqp://django:django@rabbitmq:5672/rabbit",
        "CELERY_BROKER_WRITE_URL": "amqp://django:django@rabbitmq:5672/rabbit",
        "CELERY_RESULT_BACKEND": "redis://:pw@redis:6379/0",
        "CELERY_TASK_DEFAULT_QUEUE": "celery",
        "SECRET_KEY": "s3cret",
        "TIME_ZONE": "UTC",
    }

    censored = censored_settings(settings)

    assert censored == {
        "CELERY_BROKER_URL": "amqp://django:********@rabbitmq:5672/rabbit",
        "CELERY_BROKER_WRITE_URL": "amqp://django:********@rabbitmq:5672/rabbit",
        "CELERY_RESULT_BACKEND": "redis://:********@redis:6379/0",
        "CELERY_TASK_DEFAULT_QUEUE": "celery",
        "SECRET_KEY": "********",
        "TIME_ZONE": "UTC",
    }
