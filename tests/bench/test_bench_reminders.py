"""`python -m bench.reminders` at a tiny size: a real worker and mail catcher, every message once,
the figures and the CPU of each process printed and in its JSON line. No figure is judged here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.reminders import MARKER

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.broker
@pytest.mark.timeout(180)
def test_reminders_benchmark_sends_each_message_once_and_reports_each_process_cpu():
    completed = subprocess.run([sys.executable, "-m", "bench.reminders", "--count", "30"], cwd=ROOT,
                               env={**os.environ, "DJANGO_LOG_LEVEL": "WARNING"}, capture_output=True, text=True,
                               timeout=170, check=False)

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    found = json.loads(next(line for line in completed.stdout.splitlines() if line.startswith(MARKER))[len(MARKER):])
    assert found["count"] == 30 and found["concurrency"] == 2
    assert found["all_received_once"] is True
    assert found["celery_msg_per_s"] > 0 and found["floor_before_msg_per_s"] > 0 and found["floor_after_msg_per_s"] > 0
    assert found["floor_msg_per_s"] == pytest.approx(
        (found["floor_before_msg_per_s"] + found["floor_after_msg_per_s"]) / 2, rel=0.01)
    # The figures are printed rounded (ratio to 3 places, rates to 1): compare within that rounding.
    assert found["ratio"] == pytest.approx(found["celery_msg_per_s"] / found["floor_msg_per_s"], rel=0.01, abs=0.001)
    if sys.platform == "linux":
        for figures, processes in (("celery_cpu_ms_per_msg", {"worker", "SMTP server"}),
                                   ("floor_cpu_ms_per_msg", {"smtplib loop", "SMTP server"}),
                                   ("floor_before_cpu_ms_per_msg", {"smtplib loop", "SMTP server"})):
            assert set(found[figures]) == processes
            assert all(ms > 0 for ms in found[figures].values()), found
        assert 0 < found["celery_machine_busy"] <= 1 and 0 < found["floor_machine_busy"] <= 1
    assert "CPU per message: worker" in completed.stdout
    assert completed.stdout.count("CPU per message: smtplib loop") == 2
