"""The check-in page a patient's email link opens: GET shows the question, POST answers it (once).

The link is signed, expires (``CHECK_IN_LINK_MAX_AGE``) and names one check-in; an unknown id and a
forged link get the same answer. Rate-limited like every patient page; each read is in the audit trail,
each answer too (``check_in_answer``).
"""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.display import location_time
from clinic.ratelimit import rate_limited
from patients.services import audit_read
from scheduling.checkins.links import check_in_link_expired, check_in_link_read
from scheduling.checkins.models import CheckIn
from scheduling.checkins.questions import (
    HDSS_ANSWERS,
    HDSS_QUESTION,
    PAIN_ANSWERS,
    PAIN_QUESTION,
    SKIN_ANSWERS,
    SKIN_QUESTION,
)
from scheduling.checkins.services import ALREADY_ANSWERED, check_in_answer
from scheduling.models import Indication
from scheduling.reminders.emails import NOT_VALID

EXPIRED = "This link has expired. If you would like to tell us how you are, please call the clinic."


def _page(request, *, title: str, message: str = "", status: int = 200, check_in: CheckIn | None = None,
          errors: dict | None = None, ask: bool = False):
    context = {"title": title, "message": message, "check_in": check_in, "errors": errors or {}, "ask": ask,
               "location": check_in.course.location if check_in else None}
    if check_in is not None and ask:
        hyperhidrosis = check_in.course.indication == Indication.HYPERHIDROSIS
        context.update(question=HDSS_QUESTION if hyperhidrosis else PAIN_QUESTION,
                       answers=HDSS_ANSWERS if hyperhidrosis else PAIN_ANSWERS, scale="hdss" if hyperhidrosis
                       else "pain", skin_question=SKIN_QUESTION, skin_answers=SKIN_ANSWERS)
    return render(request, "patient/check_in.html", context, status=status)


def _score(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 2 else None


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def check_in_page(request, token: str):
    try:
        check_in_id = check_in_link_read(token=token)
    except signing.BadSignature:
        return _page(request, title="Link not usable", message=NOT_VALID, status=400)
    check_in = CheckIn.objects.select_related("course__location", "patient").filter(pk=check_in_id).first()
    if check_in is None:
        return _page(request, title="Link not usable", message=NOT_VALID, status=400)
    audit_read(actor=None, patient=check_in.patient, obj=check_in, via="patient-link")
    if not check_in.is_answered and check_in_link_expired(due_at=check_in.due_at, now=timezone.now()):
        return _page(request, title="Link not usable", message=EXPIRED, status=410)
    if check_in.is_answered:
        return _page(request, title="Already answered", check_in=check_in, status=409 if request.method == "POST"
                     else 200, message=f"{ALREADY_ANSWERED} (Answered "
                                       f"{location_time(check_in.course.location, check_in.answered_at)}.)")
    if request.method == "GET":
        return _page(request, title="How are you doing?", check_in=check_in, ask=True)
    try:
        check_in_answer(check_in=check_in, score=_score(request.POST.get("score", "")),
                        skin_reaction=request.POST.get("skin_reaction", ""))
    except ValidationError as error:
        if getattr(error, "code", None) == "already_answered":
            return _page(request, title="Already answered", check_in=check_in, status=409, message=ALREADY_ANSWERED)
        return _page(request, title="How are you doing?", check_in=check_in, ask=True, status=400,
                     errors=error.message_dict if hasattr(error, "error_dict") else {"score": error.messages})
    return _page(request, title="Thank you", check_in=check_in,
                 message=f"Your answer has reached {check_in.course.location.name}. If anything worries you, "
                         f"call us on {check_in.course.location.phone}.")
