"""The Celery app: configuration from Django settings (CELERY_*), tasks found in each app."""

import os

from celery import Celery

from clinic import broker

broker.register()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
