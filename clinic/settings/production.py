"""Production: everything of clinic.settings, hardened, and no start without a real secret."""

import os

from django.core.exceptions import ImproperlyConfigured

# Before the shared settings load: without DATABASE_URL they would reach for the embedded server of
# development (devtools), which production never imports.
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL must name the PostgreSQL server in production (postgres://user:password@host:5432/name)."
    )

from clinic.settings import *  # noqa: E402, F403
from clinic.settings import env, env_bool, env_int  # noqa: E402

SECRET_KEY = env("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
DEBUG = env_bool("DJANGO_DEBUG", False)
if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")

IONTO_MANAGER_2FA_REQUIRED = env_bool("IONTO_MANAGER_2FA_REQUIRED", True)

# Patient emails go to the clinic's relay. Without one named, reminders would go to the development
# default (a mail catcher on this machine) and be marked sent while no patient gets them.
if not (env("EMAIL_HOST") or env("EMAIL_URL")):
    raise ImproperlyConfigured("EMAIL_HOST (or EMAIL_URL, e.g. smtp+tls://user:password@relay.example.org:587) "
                               "must name the clinic's SMTP relay in production.")
if EMAIL_BACKEND not in ("clinic.mail.EmailBackend", "django.core.mail.backends.smtp.EmailBackend"):  # noqa: F405
    raise ImproperlyConfigured("EMAIL_BACKEND must send over SMTP in production (leave it unset).")

# Rate limits and throttles count in the cache; across web processes and machines only a shared
# server keeps one count.
if not env("CACHE_URL"):
    raise ImproperlyConfigured("CACHE_URL must name the cache every web process shares in production "
                               "(redis://redis:6379/1; file:///path on a one-machine installation).")

# Files are collected into STATIC_ROOT by the image; no finders at run time.
WHITENOISE_USE_FINDERS = False

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
