"""Every 4xx under `/api/` is JSON, `{"error": "..."}`, like the API views' own answers.

Django answers some requests before a view of ours runs, or around it: an unknown path
(404), a missing object raised as `Http404`, a failed CSRF check (403), a body larger than
`DATA_UPLOAD_MAX_MEMORY_SIZE` (`RequestDataTooBig`, a 400 page by default). The handlers
here are Django's hooks for those (`handler400`/`403`/`404` in `webapp/urls.py`,
`CSRF_FAILURE_VIEW`): JSON under `/api/`, Django's own pages elsewhere. The middleware
answers 413 for a body too large that a view was reading, and turns what still comes back
under `/api/` as a page into JSON: a 405 from `require_http_methods`, and Django's debug
pages when `DEBUG` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
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


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not is_api(request):
        return csrf.csrf_failure(request, reason=reason)
    # The reason is Django's own short sentence ("CSRF token missing."), never a secret.
    return JsonResponse({"error": f"CSRF check failed: {reason}".rstrip(": ")}, status=403)


class ApiErrorsMiddleware:
    """Outside the CSRF middleware, so that what it answers passes through here too. Sync
    and async alike, so an ASGI request makes no thread hop here."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return as_json(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return as_json(request, await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if is_api(request) and isinstance(exception, RequestDataTooBig):
            return too_large()
        return None


def as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A 4xx page under /api/ as `{"error"}` with the same status (and `Allow`)."""
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
