"""docker-compose.yml cannot run here (no Docker engine); check what can be checked without it, and the
web application gunicorn loads."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from clinic import processes

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_shape():
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "mailcatcher"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:18")
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
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
    for name in ("web", "worker", "beat", "mailcatcher"):
        assert services[name]["environment"]["DATABASE_URL"] == runtime, name
        assert "DATABASE_RUNTIME_URL" not in services[name]["environment"], name


def test_compose_runs_the_commands_that_make_run_and_the_tests_run():
    services = _compose()["services"]
    assert services["web"]["command"] == processes.web_command("0.0.0.0:8000")
    assert services["worker"]["command"] == processes.worker_command()
    assert services["beat"]["command"] == processes.beat_command("/tmp/celerybeat-schedule")
    assert services["mailcatcher"]["command"] == processes.mailcatcher_command(1025, "/tmp/mail", "0.0.0.0")


def test_dockerfile_default_command_is_the_web_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert yaml.safe_load(cmd_line[len("CMD "):]) == processes.web_command("0.0.0.0:8000")
    assert "requirements.txt" in dockerfile


def test_env_example_names_every_variable_compose_requires():
    example = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "POSTGRES_RUNTIME_PASSWORD", "DJANGO_ALLOWED_HOSTS"):
        assert f"{name}=" in example


def test_the_web_access_log_never_carries_query_strings():
    """Searches put patients' names in query strings; the access log names the path only."""
    assert "%(U)s" in processes.ACCESS_LOG_FORMAT
    for forbidden in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):
        assert forbidden not in processes.ACCESS_LOG_FORMAT


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


def test_each_worker_process_freezes_its_start_up_objects_out_of_the_collector():
    """Celery's pool processes start with Django and the tasks loaded; the start-up signal freezes them."""
    probe = ("import gc; from clinic.celery import app; from celery.signals import worker_process_init; "
             "app.loader.import_default_modules(); before = gc.get_freeze_count(); "
             "worker_process_init.send(sender=None); print(before, gc.get_freeze_count())")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=60, check=True)
    before, frozen = map(int, completed.stdout.split())
    assert (before, frozen > 50_000) == (0, True)
