"""Transactions that PostgreSQL may pick as a deadlock's victim, run again."""

from __future__ import annotations

import functools
import logging
import time

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

DEADLOCK_DETECTED = "40P01"
ATTEMPTS = 3
# The victim's rollback frees its rows, but the winner needs a moment to take them: run again at once and the
# victim can take its first row back ahead of the winner and deadlock a second time (seen in the suite).
PAUSE_SECONDS = 0.05


def retried_on_deadlock(function):
    """Run ``function`` (a whole transaction: put this decorator above ``transaction.atomic``) again when
    PostgreSQL broke a deadlock by rolling it back, up to ``ATTEMPTS`` times. Two paths that lock the same
    rows in different orders (a patient taking an offer while the beat expires others) then both finish
    instead of one answering with an error. Each run again first waits ``PAUSE_SECONDS`` times the runs so far.
    Inside an outer transaction nothing can be run again: the error goes up as it came."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except OperationalError as error:
                if (getattr(error.__cause__, "pgcode", None) != DEADLOCK_DETECTED or attempt == ATTEMPTS
                        or connection.in_atomic_block):
                    raise
                logger.warning("%s was a deadlock's victim; running it again (attempt %s)", function.__name__,
                               attempt + 1)
                time.sleep(PAUSE_SECONDS * attempt)
        raise AssertionError("unreachable")

    return run
