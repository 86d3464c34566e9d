"""Schemathesis, every check on, against a live server of the project with a token for each role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.services import token_issue
from tests.api.conftest import booked_session
from tests.factories import make_clinic

CONFIG = Path(__file__).with_name("schemathesis.toml")
# The coverage phase (every boundary and wrong type of every parameter, every undeclared method) runs
# as the manager, who may call every operation; the other roles get the generated phases, which
# cover what their role changes: refusals (403) and rows of other locations (404/400).
PHASES = {"manager": "examples,coverage,fuzzing,stateful", "front_desk": "examples,fuzzing,stateful",
          "clinician": "examples,fuzzing,stateful"}
ST = Path(sys.executable).with_name("st")
# The suite's run is short (3 examples an operation); a deeper run sets SCHEMATHESIS_MAX_EXAMPLES=30 and
# gives it the time it needs here.
RUN_SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "230"))


@pytest.fixture
def clinic_data(transactional_db):
    own, other = make_clinic(name="Northside"), make_clinic(name="Southside")
    for clinic in (own, other):
        booked_session(clinic, weekday=0, hour=10)
        booked_session(clinic, weekday=1, hour=11)
    return own


@pytest.mark.timeout(RUN_SECONDS + 10)
@pytest.mark.parametrize("role", ["front_desk", "clinician", "manager"])
def test_schemathesis_finds_no_failure(live_server, clinic_data, settings, role, tmp_path):
    user = {"front_desk": clinic_data.front_desk, "clinician": clinic_data.clinician,
            "manager": clinic_data.manager}[role].user
    token = token_issue(user=user).token
    # Thousands of requests in two minutes: the per-user rate must not turn the run into 429s
    # (tests/api/test_errors.py checks the 429); token requests keep their low rate.
    settings.IONTO_API_RATES = {"user": "100000/min"}
    result = subprocess.run(
        [str(ST), "--config-file", str(CONFIG), "run", f"{live_server.url}/api/v1/schema/",
         "--checks", "all", "--header", f"Authorization: Bearer {token}",
         "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"), "--seed", "20261207",
         # One worker: Hypothesis parses its strategies' lambdas with ast.parse, which CPython 3.11 does not
         # make safe across threads ("SystemError: AST constructor recursion depth mismatch", seen with two).
         "--workers", "1", "--phases", PHASES[role],
         # Revoking the token in use would sign the rest of the run out; tests/api/test_auth.py covers it.
         "--exclude-operation-id", "auth_token_destroy",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=RUN_SECONDS, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    report = Path(os.environ.get("SCHEMATHESIS_OUTPUT_DIR", tmp_path)) / f"schemathesis-{role}.txt"
    report.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"see {report}\n" + result.stdout[-6000:] + result.stderr[-2000:]
