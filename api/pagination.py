"""Pages: numbered for the clinic's lists, a cursor for appointments (stable while rows are added)."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PageNumber(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AppointmentCursor(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("starts_at", "id")
