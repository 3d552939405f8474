"""Nothing secret in the logs: a request's query string (where `?token=` rides) never reaches a log line."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_logged_request_keeps_its_path_and_drops_its_query_string(client, console):
    assert client.get("/no-such-page/", {"token": "zk_secret-token-value"}).status_code == 404
    lines = console.getvalue()
    assert '"request": "GET /no-such-page/"' in lines
    assert "zk_secret-token-value" not in lines
