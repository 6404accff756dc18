"""Every 4xx under `/api/` is JSON, `{"error": "..."}`, like the API views' own answers.

Django answers some requests before a view of ours runs, or around it: an unknown path
(404), a missing object raised as `Http404`, a failed CSRF check (403), a body larger than
`DATA_UPLOAD_MAX_MEMORY_SIZE` (`RequestDataTooBig`, a 400 page by default). The handlers
here are Django's hooks for those (`handler400`/`403`/`404`/`500` in `webapp/urls.py`,
`CSRF_FAILURE_VIEW`): JSON under `/api/`, Django's own pages elsewhere. The middleware
answers 413 for a body too large that a view was reading, and turns what still comes back
under `/api/` as a page into JSON: a 405 from `require_http_methods`, and Django's debug
pages when `DEBUG` is on.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views import csrf, defaults


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"error": f"the request body is larger than the limit of {limit} bytes"}, status=413
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"HTTP {status}"


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return too_large()
    return JsonResponse({"error": "bad request"}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"error": "forbidden"}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"error": "not found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse({"error": "the server hit an internal error"}, status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not is_api(request):
        return csrf.csrf_failure(request, reason=reason)
    # The reason is Django's own short sentence ("CSRF token missing."), never a secret.
    return JsonResponse({"error": f"CSRF check failed: {reason}".rstrip(": ")}, status=403)


class ApiErrorsMiddleware(MiddlewareMixin):
    """Outside the CSRF middleware, so that what it answers passes through here too."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if is_api(request) and isinstance(exception, RequestDataTooBig):
            return too_large()
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        if not (is_api(request) and 400 <= status < 500):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = response.get("Allow")  # a 405 says which methods there are
        message = f"{_phrase(status)}: use {allowed}" if allowed else _phrase(status)
        answer = JsonResponse({"error": message}, status=status)
        if allowed:
            answer["Allow"] = allowed
        return answer
