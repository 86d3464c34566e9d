"""`python -m bench.reminders` at a tiny size: the Procfile's sender and a slow mail catcher, every
message once, the figures and the CPU of each process printed and in its JSON line. No figure is
judged here (the machine is shared); `make bench` judges the full size."""

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
def test_reminders_benchmark_sends_each_message_once_and_reports_its_figures():
    completed = subprocess.run([sys.executable, "-m", "bench.reminders", "--count", "30"], cwd=ROOT,
                               env={**os.environ, "DJANGO_LOG_LEVEL": "WARNING"}, capture_output=True, text=True,
                               timeout=170, check=False)

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    found = json.loads(next(line for line in completed.stdout.splitlines() if line.startswith(MARKER))[len(MARKER):])
    assert (found["count"], found["threads"], found["reply_delay_ms"]) == (30, 16, 50)
    assert found["all_received_once"] is True
    assert found["seconds"] > 0 and found["msg_per_s"] == pytest.approx(29 / found["seconds"], rel=0.05)
    if sys.platform == "linux":
        assert set(found["cpu_ms_per_msg"]) == {"sender", "SMTP server"}
        assert all(ms > 0 for ms in found["cpu_ms_per_msg"].values()), found
        assert 0 < found["machine_busy"] <= 1
    assert "CPU per message: sender" in completed.stdout
