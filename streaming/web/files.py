"""Attachments and presets: `POST /api/files`, `GET /api/files/<id>`, `GET /api/presets`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from streaming import selectors
from streaming.models import Upload
from streaming.services import files as file_services
from streaming.web.api import api, error
from streaming.web.serializers import preset_json, upload_json


def _too_large() -> JsonResponse:
    return error(413, f"the file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes")


@require_http_methods(["POST"])
@api
def files(request: HttpRequest) -> JsonResponse:
    # The length is checked before the body is read; the file is then streamed to disk by
    # Django's upload handlers, never held whole in memory.
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.UPLOAD_MAX_BYTES + 64 * 1024:
        return _too_large()
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return error(400, "send the file as the multipart field 'file'")
    if (uploaded.size or 0) > settings.UPLOAD_MAX_BYTES:
        return _too_large()
    try:
        upload = file_services.file_create(owner=request.user, uploaded=uploaded)
    except file_services.UnsupportedType as exc:
        return error(415, str(exc))
    return JsonResponse(upload_json(upload), status=201)


@require_http_methods(["GET"])
def file_content(request: HttpRequest, upload_id: Any) -> HttpResponse:
    """The file's bytes, for its owner (and staff, who review transcripts)."""
    user = request.user
    if not user.is_authenticated:
        return error(401, "log in first")
    scope = Upload.objects.all() if user.is_staff else Upload.objects.filter(owner=user)
    upload = scope.filter(pk=upload_id).first()
    if upload is None:
        raise Http404("not found")
    response = FileResponse(upload.file.open("rb"), content_type=upload.content_type)
    response["Content-Disposition"] = "inline" if upload.is_image else "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET"])
@api
def presets(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"presets": [preset_json(p) for p in selectors.presets_visible(user=request.user)]}
    )
