"""The Celery app: configuration from Django settings (CELERY_*), tasks found in each app."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

from clinic import broker

broker.register()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_start_up_objects(**_kwargs) -> None:
    """A pool process starts with Django and every task module loaded, for as long as it lives.
    Frozen out of the garbage collector, they are no longer walked by the collections that
    building messages sets off: a tenth of a reminder's cost in the worker."""
    gc.freeze()
