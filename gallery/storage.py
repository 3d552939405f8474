"""What the gallery needs from the configured storage beyond django-storages: a bucket that exists."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

logger = logging.getLogger(__name__)


class BucketError(Exception):
    pass


def ensure_bucket() -> str:
    """Create the default storage's bucket when it is S3 and missing. Says what it found or did."""
    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        return "Local file storage: no bucket needed."
    client = storage.connection.meta.client
    bucket = storage.bucket_name
    try:
        client.head_bucket(Bucket=bucket)
        return f"Bucket {bucket} exists."
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise BucketError(f"Cannot check bucket {bucket}: {error}") from error
    except BotoCoreError as error:
        raise BucketError(f"Cannot reach S3 for bucket {bucket}: {error}") from error
    region = client.meta.region_name
    arguments: dict = {"Bucket": bucket}
    if region and region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**arguments)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"BucketAlreadyOwnedByYou"}:
            raise BucketError(f"Cannot create bucket {bucket}: {error}") from error
        return f"Bucket {bucket} exists."
    except BotoCoreError as error:
        raise BucketError(f"Cannot reach S3 for bucket {bucket}: {error}") from error
    logger.info("created bucket", extra={"bucket": bucket})
    return f"Created bucket {bucket}."
