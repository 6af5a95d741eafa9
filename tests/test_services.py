"""The scaled parts, for real: PostgreSQL, Redis and an S3-compatible server."""

import os
import urllib.error
import urllib.request
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_is_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0]


@pytest.mark.redis
def test_redis_channel_layer_delivers_group_messages():
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[os.environ["REDIS_URL"]])

    async def roundtrip():
        channel = await layer.new_channel()
        group = f"test.{uuid.uuid4().hex}"
        await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "job.progress", "progress": 0.5})
        message = await layer.receive(channel)
        await layer.flush()
        return message

    assert async_to_sync(roundtrip)() == {"type": "job.progress", "progress": 0.5}


@pytest.mark.redis
def test_settings_use_redis_layer_when_configured(settings):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


@pytest.mark.s3
def test_s3_storage_keeps_objects_private_behind_signed_urls():
    from django.core.files.storage import default_storage
    from storages.backends.s3 import S3Storage

    assert isinstance(default_storage, S3Storage)
    name = default_storage.save(f"tests/{uuid.uuid4().hex}.txt", ContentFile(b"pixels"))
    try:
        signed = default_storage.url(name)
        assert "X-Amz-Signature" in signed and "X-Amz-Expires" in signed
        with urllib.request.urlopen(signed) as response:
            assert response.read() == b"pixels"
        unsigned = signed.split("?", 1)[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(unsigned)
        assert refused.value.code == 403
    finally:
        default_storage.delete(name)
    assert not default_storage.exists(name)
