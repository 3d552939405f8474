"""Input that used to be a 500 (audit issue 17, item 3) is a 400 in the API's error shape."""

from __future__ import annotations

import pytest

from core.parsers import MAX_JSON_DEPTH


def nested_json(depth: int) -> str:
    """`{"prompt": [[[...]]]}`, written as text: deeper than json.dumps (or the old recursive NUL check) can go."""
    return '{"prompt": ' + "[" * depth + '"x"' + "]" * depth + "}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 325, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_in_the_error_shape(api_client, depth):
    response = api_client.post("/api/v1/jobs", nested_json(depth), content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert str(MAX_JSON_DEPTH) in error["message"]


def test_json_nested_within_the_limit_reaches_validation(api_client):
    response = api_client.post("/api/v1/jobs", nested_json(MAX_JSON_DEPTH - 1), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "prompt" in response.json()["error"]["fields"]


@pytest.mark.parametrize("folder", ["9223372036854775808", "9" * 40, "0"])
def test_a_folder_id_outside_the_id_range_is_a_400_naming_it(api_client, folder):
    response = api_client.get("/api/v1/images", {"folder": folder})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"folder"}


def test_the_largest_folder_id_is_a_valid_filter(api_client):
    response = api_client.get("/api/v1/images", {"folder": str(2**63 - 1)})

    assert response.status_code == 200 and response.json()["count"] == 0
