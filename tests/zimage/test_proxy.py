"""deploy/nginx.conf, run by a real nginx, in front of gunicorn, daphne and an S3 server, as compose runs it.

Only the upstream addresses, the listening port and the log directory are rewritten (tests.processes.NginxProcess);
everything else is the file as deployed. tests/zimage/test_compose_rehearsal.py runs it in front of the whole stack.
"""

from __future__ import annotations

import asyncio
import json

import boto3
import httpx
import pytest
from botocore.config import Config
from websockets.asyncio.client import connect

from accounts.services import create_api_key
from generation.models import GenerationJob

from ..factories import UserFactory
from ..gallery.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, s3_server  # noqa: F401 (a fixture)
from ..processes import NGINX, DaphneProcess, GunicornProcess, NginxProcess
from ..waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy(transactional_db, s3_server, tmp_path):  # noqa: F811 (the imported fixture)
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)")
    web, ws = GunicornProcess().ready(), DaphneProcess().ready()
    upstreams = {"web:8000": f"127.0.0.1:{web.port}", "ws:8001": f"127.0.0.1:{ws.port}"}
    upstreams["minio:9000"] = s3_server.endpoint.removeprefix("http://")
    nginx = NginxProcess(upstreams=upstreams, directory=tmp_path)
    try:
        yield nginx.ready().url
    finally:
        nginx.stop()
        web.stop()
        ws.stop()


def test_http_goes_to_gunicorn_through_the_proxy_with_the_browsers_host(proxy):
    user = UserFactory()
    _, key = create_api_key(user=user, name="proxy test")
    assert httpx.get(f"{proxy}/healthz").status_code == 200
    submitted = httpx.post(
        f"{proxy}/api/v1/jobs",
        json={"prompt": "a red sneaker", "production_path": "fashion"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert submitted.status_code == 202, submitted.text
    assert GenerationJob.objects.get(pk=submitted.json()["id"]).owner == user
    assert httpx.get(f"{proxy}/accounts/login/", follow_redirects=True).status_code == 200


def test_the_proxy_gives_each_request_an_id_that_the_app_answers_with_and_both_log(proxy, tmp_path):
    made = httpx.get(f"{proxy}/healthz").headers["X-Request-ID"]
    kept = httpx.get(f"{proxy}/healthz", headers={"X-Request-ID": "client-id-1"}).headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0  # nginx's $request_id, forwarded to gunicorn and echoed
    assert kept == "client-id-1"

    def logged() -> list[str]:
        return [line.rsplit(" ", 1)[-1] for line in (tmp_path / "access.log").read_text().splitlines()]

    # nginx writes a request's access line after the response has gone: the second may lag the client.
    wait_until(lambda: "client-id-1" in logged(), timeout=10, message="the second request's access line")
    assert logged()[-2:] == [made, "client-id-1"]


def test_websockets_go_to_daphne_through_the_proxy(proxy):
    _, key = create_api_key(user=UserFactory(), name="proxy test")

    async def first_message() -> dict:
        async with connect(f"{proxy.replace('http', 'ws', 1)}/ws/jobs/?token={key}", open_timeout=10) as socket:
            return json.loads(await asyncio.wait_for(socket.recv(), 10))

    assert asyncio.run(first_message()) == {"type": "snapshot", "jobs": []}


def test_an_image_url_signed_for_the_proxy_is_served_from_the_bucket(proxy, s3_server):  # noqa: F811
    s3_server.client().create_bucket(Bucket="zimage-images")
    s3_server.client().put_object(Bucket="zimage-images", Key="images/1/2/a.png", Body=b"\x89PNG-bytes")
    signer = boto3.client(
        "s3",
        endpoint_url=proxy,  # AWS_S3_PUBLIC_ENDPOINT_URL in compose
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": "zimage-images", "Key": "images/1/2/a.png"}, ExpiresIn=60
    )
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b"\x89PNG-bytes"
    assert httpx.get(f"{proxy}/zimage-images/images/1/2/a.png").status_code == 403  # unsigned: refused
