"""A minimal Django project that serves the two peers the benchmark compares Ionto with.

It runs only in bench/.peers-venv (django-scheduler and django-appointment from PyPI, never in the
repository) against a PostgreSQL database of its own named by PEERS_DATABASE_URL.
"""

import os

import dj_database_url

SECRET_KEY = os.environ.get("PEERS_SECRET_KEY", "peers-benchmark-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "Europe/London"
LANGUAGE_CODE = "en-gb"
USE_I18N = True
ROOT_URLCONF = "peers_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "schedule",
    "appointment",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": dj_database_url.parse(os.environ["PEERS_DATABASE_URL"], conn_max_age=60)}
STATIC_URL = "static/"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# django-appointment: a clinic day like Ionto's bench clinics (08:00-20:00, 30-minute sessions).
APPOINTMENT_SLOT_DURATION = 30
APPOINTMENT_LEAD_TIME = (8, 0)
APPOINTMENT_FINISH_TIME = (20, 0)
APPOINTMENT_BUFFER_TIME = 0
APPOINTMENT_WEBSITE_NAME = "Peers benchmark"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
