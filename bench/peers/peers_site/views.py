"""The one question django-appointment has no view for: the free slots of every staff member for a week.

It loops over django-appointment's own service, the way a page showing that week would have to.
"""

from datetime import date, timedelta

from appointment.models import StaffMember
from appointment.services import get_available_slots_for_staff
from appointment.utils.db_helpers import get_weekday_num_from_date
from django.http import JsonResponse


def appointment_week_slots(request):
    first = date.fromisoformat(request.GET["start"])
    answer = {}
    for staff_member in StaffMember.objects.select_related("user").order_by("id"):
        days = {}
        for offset in range(7):
            day = first + timedelta(days=offset)
            slots = get_available_slots_for_staff(day, staff_member, get_weekday_num_from_date(day))
            days[day.isoformat()] = [slot.isoformat() for slot in slots]
        answer[str(staff_member.pk)] = days
    return JsonResponse(answer)
