"""The long-running processes of Ionto, named once for `make run`, docker-compose and the tests."""

from __future__ import annotations

# The access log names the path but never the query string: searches carry patients' names.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def web_command(bind: str, workers: int = 2) -> list[str]:
    return ["gunicorn", "clinic.wsgi:application", "--bind", bind, "--workers", str(workers),
            "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]


def worker_command(concurrency: int = 2) -> list[str]:
    return ["celery", "-A", "clinic", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency)]


def beat_command(schedule_file: str) -> list[str]:
    return ["celery", "-A", "clinic", "beat", "--loglevel", "INFO", "--schedule", schedule_file]


def mailcatcher_command(port: int, folder: str, host: str = "127.0.0.1") -> list[str]:
    return ["python", "-m", "clinic.mailcatcher", "--host", host, "--port", str(port), "--dir", folder]


def with_interpreter(command: list[str], python: str) -> list[str]:
    """The same command run as a module of the given interpreter (the venv's, in `make run`)."""
    program, *args = command
    if program == "python":
        return [python, *args]
    return [python, "-m", program, *args]
