"""Refuse text carrying NUL characters before any view sees it.

PostgreSQL cannot store U+0000 in a text or JSON column: a NUL typed into a form
field, a query string or a JSON body would fail deep inside a view as a 500. Django's
form fields refuse it one by one; this refuses it once, for every view, forms or not.
Uploaded files are not text and are left alone.
"""

import json

from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

MESSAGE = "Text may not contain NUL characters."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseNullCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if carries_null(request):
            if request.content_type == "application/json" or request.path.startswith("/api/"):
                return JsonResponse({"detail": MESSAGE}, status=400)
            return HttpResponseBadRequest(MESSAGE)
        return self.get_response(request)


def carries_null(request: HttpRequest) -> bool:
    if "\x00" in request.path or _in_querydict(request.GET):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    if request.content_type in FORM_TYPES:
        try:
            return _in_querydict(request.POST)
        except MultiPartParserError:
            return False  # malformed: the view sees an empty form and says so
    if request.content_type == "application/json":
        body = request.body
        if b"\\u0000" not in body and b"\x00" not in body:
            return False
        try:
            return _in_json(json.loads(body))
        except (ValueError, RecursionError):
            return False  # not JSON: the API answers that itself
    return False


def _in_querydict(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())


def _in_json(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
