"""/healthz: is each part the studio depends on answering?"""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _channel_layer() -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "health.ping"})
    message = async_to_sync(layer.receive)(channel)
    return "ok" if message.get("type") == "health.ping" else "no echo"


def _storage() -> str:
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as handle:
            content = handle.read()
    finally:
        default_storage.delete(name)
    return "ok" if content == b"ok" else "wrong content"


CHECKS = {"database": _database, "channel_layer": _channel_layer, "storage": _storage}


@never_cache
@require_GET
def healthz(request):
    report = {}
    for name, check in CHECKS.items():
        try:
            report[name] = check()
        except Exception as error:  # a health check reports failures, it does not raise
            report[name] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in report.values())
    report["status"] = "ok" if healthy else "degraded"
    return JsonResponse(report, status=200 if healthy else 503)
