"""`GET /api/usage`: the user's own tokens, cost and budget left."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming.accounting.budgets import usage_report
from streaming.web.api import api


@require_http_methods(["GET"])
@api
def usage(request: HttpRequest) -> JsonResponse:
    return JsonResponse(usage_report(user=request.user))
