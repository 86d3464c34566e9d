"""Pages: numbered for the clinic's lists, a cursor for appointments (stable while rows are added).

A page size outside 1..max answers 400 instead of silently falling back to the default.
"""

from django.core.paginator import Paginator
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from patients.selectors import FirstMatches


def _strict_page_size(paginator, request) -> int:
    raw = request.query_params.get(paginator.page_size_query_param)
    if raw is None:
        return paginator.page_size
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= paginator.max_page_size:
        raise exceptions.ValidationError(
            {paginator.page_size_query_param: [f"Give a whole number from 1 to {paginator.max_page_size}."]})
    return int(raw)


def _bounded(parameters: list[dict], name: str, maximum: int | None) -> list[dict]:
    for parameter in parameters:
        if parameter["name"] == name:
            parameter["schema"]["minimum"] = 1
            if maximum is not None:
                parameter["schema"]["maximum"] = maximum
    return parameters


class PageNumber(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise exceptions.ValidationError({self.page_query_param: ["Give a page number from 1 up."]})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        return _strict_page_size(self, request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        return _bounded(_bounded(parameters, self.page_size_query_param, self.max_page_size), self.page_query_param,
                        None)


class SearchPages(PageNumber):
    """Pages that count a search's matches only up to ``FirstMatches.limit`` (the view's ``searching`` says
    when): ``count`` is the number that can be paged through, and ``more_matches`` says that more match."""

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = FirstMatches if getattr(view, "searching", False) else Paginator
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count,
            "more_matches": getattr(self.page.paginator, "more", False),
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"] = {"count": answer["properties"]["count"], "more_matches": {
            "type": "boolean", "description": f"More patients match the search than the first {FirstMatches.limit}, "
                                             "which are all that is counted and paged: type more of it."},
            **{name: value for name, value in answer["properties"].items() if name != "count"}}
        answer["required"] = [*answer["required"], "more_matches"]
        return answer


class AppointmentCursor(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("starts_at", "id")

    def get_page_size(self, request):
        return _strict_page_size(self, request)

    def get_schema_operation_parameters(self, view):
        return _bounded(super().get_schema_operation_parameters(view), self.page_size_query_param, self.max_page_size)
