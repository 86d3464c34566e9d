"""docker-compose.yml cannot run here (no Docker engine); check what can be checked without it."""

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


def test_compose_runs_the_commands_that_make_run_and_the_tests_run():
    services = _compose()["services"]
    assert services["web"]["command"] == processes.web_command("0.0.0.0:8000")
    assert services["worker"]["command"] == processes.worker_command()
    assert services["beat"]["command"] == processes.beat_command("/tmp/celerybeat-schedule")
    assert services["mailcatcher"]["command"] == processes.mailcatcher_command(1025, "/tmp/mail", "0.0.0.0")
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_dockerfile_default_command_is_the_web_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert yaml.safe_load(cmd_line[len("CMD "):]) == processes.web_command("0.0.0.0:8000")
    assert "requirements.txt" in dockerfile


def test_env_example_names_every_variable_compose_requires():
    example = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "DJANGO_ALLOWED_HOSTS"):
        assert f"{name}=" in example


def test_the_web_access_log_never_carries_query_strings():
    """Searches put patients' names in query strings; the access log names the path only."""
    assert "%(U)s" in processes.ACCESS_LOG_FORMAT
    for forbidden in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):
        assert forbidden not in processes.ACCESS_LOG_FORMAT
