"""`make bench`'s runner at its tiny --quick size: it runs end to end and prints the table.

No figure is judged here (timings belong to the benchmark, not to tests). The peers (a venv of their
own, installed from PyPI), the engine and the reminders benchmarks are left out to keep this short
(the admin pages' and the reports' benchmarks stay: they ask a few pages and reports in-process);
the quick run writes its JSON to a temporary file, never to bench/results/.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = "| figure | value | goal | result |"


@pytest.mark.timeout(240)
def test_quick_bench_runs_and_prints_one_table_and_its_json(tmp_path):
    # Databases of this run's own, apart from `make bench`'s and from other test runs'.
    suffix = re.sub(r"[^a-z0-9]", "_", os.environ.get("DATABASE_TEST_NAME", "suite").lower())
    results = tmp_path / "quick.json"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--skip-peers", "--skip-engine", "--skip-reminders",
         "--prefix", f"ionto_bq_{suffix}", "--results", str(results)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=230, check=False,
    )

    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("Machine: ")
    assert f"{os.cpu_count()} cores" in lines[0]
    table = lines[lines.index(HEADER):]
    assert table[1] == "| --- | --- | --- | --- |"
    figures = [line.split(" | ")[0].removeprefix("| ") for line in table[2:] if line.startswith("| ")]
    assert "API day schedule of a location (2,000), 16 users without pause" in figures
    assert "API day schedule of a location (2,000), 16 users, 0.5-1.5 s between requests" in figures
    assert "SQL queries: day schedule of a location" in figures
    assert "growth 500 -> 2,000: day schedule, 1 user" in figures
    assert "API / floor: day schedule (2,000), 1 user" in figures
    assert "SQL queries: book an appointment" in figures and "SQL queries: move an appointment" in figures
    assert any(figure.startswith("API: an authenticated request that does nothing") for figure in figures)
    assert "admin: appointment list (median)" in figures
    assert "admin: day schedule of the busiest day (median)" in figures
    assert [figure for figure in figures if figure.startswith("report: ")] == [
        f"report: {name}, every location, a year (median)" for name in ("utilization", "attendance", "outcomes",
                                                                        "reminders")]
    written = json.loads(results.read_text())
    assert written["quick"] is True
    assert [row["figure"] for row in written["table"]] == figures
    assert set(written["machine"]) >= {"cpu", "cores", "memory_gb", "python", "postgresql"}
    assert written["figures"]["api"]["q2k"]["appointments"] >= 2000
