"""`/staff/usage/`: usage of every user for staff, with a chart of the last 30 days and CSV;
`/staff/audit/`: admin actions and transcript views, for superusers."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import date
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from streaming.accounting.audit import audit_entries
from streaming.accounting.reports import DAYS, csv_rows, usage_summary


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Not logged in: to the login page; logged in but not staff: 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(rows: Iterable[list[Any]]) -> Iterable[str]:
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in rows)


@require_http_methods(["GET"])
@staff_only
def usage_page(request: HttpRequest) -> HttpResponse:
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(_csv(csv_rows()), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="usage.csv"'
        return response
    context = {"summary": usage_summary(), "days": DAYS}
    return render(request, "staff/usage.html", context)


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@require_http_methods(["GET"])
@staff_only
def audit_page(request: HttpRequest) -> HttpResponse:
    """Superusers only, as the transcript-view record always was (reviewers are staff)."""
    if not request.user.is_superuser:
        raise PermissionDenied
    user = request.GET.get("user", "").strip()
    since, until = _date(request.GET.get("since")), _date(request.GET.get("until"))
    rows = audit_entries(user=user, since=since, until=until)
    context = {"rows": rows, "user_filter": user, "since": since, "until": until}
    return render(request, "staff/audit.html", context)
