"""A course's response at its end, worked out once when it ends and kept on the course.

An ended course takes no more scores from its sessions: a course ends only when none of its sessions is
still booked or arrived (``course_complete``, or ``course_discontinue``, which cancels them), an ended
course takes no booking, and a session record is never edited. So the managers' outcomes report counts
three columns of each ended course instead of reading every score (docs/reports.md).
``course_outcome_write`` runs in the transaction that ends a course, and again when a baseline check-in of
an ended course is answered (``check_in_answer``: the rule takes the answer by the time it was given). The
migration that added the columns and the bench's data generator, which writes ended courses directly,
call ``course_outcomes_write`` for many courses at once.

The rule: the baseline is the course's first score (the baseline check-in, else the first scored session),
the latest its last; a course is judged with two or more scores, and responded when the latest is better
than the baseline by ``HDSS_RESPONSE_POINTS`` (hyperhidrosis) or ``PAIN_RESPONSE_POINTS`` (musculoskeletal),
the rule of the progress page's no-response flag. Sessions to response: the number of the first session
(1, 2, ... in the order they took place) whose score reached the response.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection

from scheduling.records.progress import HDSS_RESPONSE_POINTS, PAIN_RESPONSE_POINTS

_OUTCOME_SQL = """
WITH ended AS (
  SELECT c.id, c.indication,
         CASE WHEN c.indication = 'musculoskeletal' THEN %(pain_points)s ELSE %(hdss_points)s END AS needed
  FROM scheduling_course c
  WHERE c.id = ANY(%(courses)s) AND c.phase = 'initial' AND c.status IN ('completed', 'discontinued')
),
recorded AS (
  SELECT a.course_id, CASE WHEN e.indication = 'musculoskeletal' THEN r.pain_nprs ELSE r.hdss END AS score,
         row_number() OVER (PARTITION BY a.course_id ORDER BY a.starts_at, a.id) AS number
  FROM ended e JOIN scheduling_appointment a ON a.course_id = e.id AND a.status = 'fulfilled'
  JOIN scheduling_sessionrecord r ON r.appointment_id = a.id
  UNION ALL
  SELECT ci.course_id, CASE WHEN e.indication = 'musculoskeletal' THEN ci.pain_nprs ELSE ci.hdss END, 0
  FROM ended e JOIN scheduling_checkin ci ON ci.course_id = e.id AND ci.purpose = 'baseline'
    AND ci.answered_at IS NOT NULL
  WHERE NOT EXISTS (SELECT 1 FROM scheduling_appointment a JOIN scheduling_sessionrecord r ON r.appointment_id = a.id
                    WHERE a.course_id = e.id AND a.status = 'fulfilled' AND a.starts_at < ci.answered_at
                      AND (r.hdss IS NOT NULL OR r.pain_nprs IS NOT NULL))
),
scored AS (
  SELECT course_id, score, number,
         first_value(score) OVER course_scores AS baseline,
         last_value(score) OVER course_scores AS latest,
         count(*) OVER course_scores AS scores
  FROM recorded WHERE score IS NOT NULL
  WINDOW course_scores AS (PARTITION BY course_id ORDER BY number ROWS BETWEEN UNBOUNDED PRECEDING
                           AND UNBOUNDED FOLLOWING)
),
per_course AS (
  SELECT e.id, COALESCE(max(s.scores) >= 2, false) AS judged,
         COALESCE(max(s.scores) >= 2 AND bool_or(s.baseline - s.latest >= e.needed), false) AS responded,
         min(s.number) FILTER (WHERE s.baseline - s.score >= e.needed) AS first_response
  FROM ended e LEFT JOIN scored s ON s.course_id = e.id GROUP BY e.id
)
UPDATE scheduling_course c
SET outcome_judged = p.judged, outcome_responded = p.responded,
    outcome_sessions_to_response = CASE WHEN p.responded THEN p.first_response END
FROM per_course p WHERE c.id = p.id
"""


OUTCOME_FIELDS = ("outcome_judged", "outcome_responded", "outcome_sessions_to_response")


def course_outcome_write(*, course) -> None:
    """Work out and keep the response of this course as it ends, on the row and on ``course``."""
    course_outcomes_write(course_ids=[course.pk])
    course.refresh_from_db(fields=OUTCOME_FIELDS)


def course_outcomes_write(*, course_ids: Collection[int]) -> int:
    """Work out and keep the response of these courses (those of them that are initial and ended; one
    statement whatever their number); the number of courses written."""
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOME_SQL, {"courses": list(course_ids), "hdss_points": HDSS_RESPONSE_POINTS,
                                      "pain_points": PAIN_RESPONSE_POINTS})
        return cursor.rowcount
