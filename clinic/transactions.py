"""Transactions that PostgreSQL may pick as a deadlock's victim, run again."""

from __future__ import annotations

import functools
import logging

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

DEADLOCK_DETECTED = "40P01"
ATTEMPTS = 3


def retried_on_deadlock(function):
    """Run ``function`` (a whole transaction: put this decorator above ``transaction.atomic``) again when
    PostgreSQL broke a deadlock by rolling it back, up to ``ATTEMPTS`` times. Two paths that lock the same
    rows in different orders (a patient taking an offer while the beat expires others) then both finish
    instead of one answering with an error. Inside an outer transaction nothing can be run again: the error
    goes up as it came."""

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
        raise AssertionError("unreachable")

    return run
