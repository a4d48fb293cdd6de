from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages answered as {"results", "next", "previous"} (DESIGN.md "HTTP API")."""

    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"
