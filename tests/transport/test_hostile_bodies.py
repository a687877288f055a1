"""Service bodies of odd shapes (red-team round): every one is a typed SentinelError or parses, on both faces.

- JSON nested deeper than the interpreter's recursion limit: ``json`` raised RecursionError (untyped) in every
  decoder (responses, error bodies, ``ExtendedProperties`` cells);
- a 200 whose body is only an error envelope: it parsed as an empty resource (``Incident(id=None, ...)``);
- error bodies in other casings (``Code``/``Message``), OData v3 (``odata.error``, message ``{lang, value}``), and
  case G2's ``UnsupportedApiVersion`` code.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from m365sentinel import aio
from m365sentinel._errors import (
    APIStatusError,
    BadRequestError,
    NotFoundError,
    SerializationError,
    UnsupportedApiVersionError,
)
from m365sentinel._json import loads
from m365sentinel._transport import Cloud, HttpClient, arm_request
from m365sentinel._transport._error_mapping import map_status_error
from m365sentinel.models import QueryResult

from .conftest import FAR_FUTURE, WS

CLOUD = Cloud.resolve("AzureCloud")
SPEC = arm_request(CLOUD, "GET", WS + "/incidents/i1", "2025-09-01")
DEEP = b"[" * 100_000
ENVELOPE = {"error": {"code": "ResourceNotFound", "message": "Incident i1 was not found."}}


@pytest.fixture
def anyio_backend():
    return "asyncio"


class AsyncCred:
    async def get_token(self, *scopes, **kw):
        from azure.core.credentials import AccessToken

        return AccessToken("token-1", FAR_FUTURE)


def test_json_nested_beyond_the_recursion_limit_is_refused_as_not_json() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(DEEP)
    with pytest.raises(SerializationError, match="body is not JSON"):
        QueryResult.from_json(DEEP)
    error = map_status_error(400, {}, DEEP)
    assert type(error) is BadRequestError and error.code is None


def test_a_deep_success_body_is_a_serialization_error(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    httpx_mock.add_response(url=SPEC.url, content=DEEP)
    with pytest.raises(SerializationError, match="answered 200 with a body that is not JSON"):
        make_client().send_json(SPEC)


def test_a_200_carrying_only_an_error_envelope_raises_the_typed_error(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    httpx_mock.add_response(url=SPEC.url, json=ENVELOPE, headers={"x-ms-request-id": "req-1"})
    with pytest.raises(APIStatusError) as caught:
        make_client().send_json(SPEC)
    error = caught.value
    assert type(error) is APIStatusError
    assert (error.status_code, error.code, error.message, error.request_id) == (
        200,
        "ResourceNotFound",
        "Incident i1 was not found.",
        "req-1",
    )
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


@pytest.mark.anyio
async def test_a_200_carrying_only_an_error_envelope_raises_the_same_on_the_async_face(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SPEC.url, json=ENVELOPE)
    async with aio.AsyncHttpClient(CLOUD, AsyncCred()) as http:
        with pytest.raises(APIStatusError) as caught:
            await http.send_json(SPEC)
    assert (type(caught.value), caught.value.code) == (APIStatusError, "ResourceNotFound")


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "X"}, "value": []},  # data beside the error: not an envelope alone
        {"properties": {"error": {"code": "X"}}},  # a resource with a field named error
        {"error": "text"},  # not an object
    ],
)
def test_bodies_with_data_beside_an_error_field_still_parse(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], body: dict
) -> None:
    httpx_mock.add_response(url=SPEC.url, json=body)
    assert make_client().send_json(SPEC) == body


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b'{"Error": {"Code": "BadArgumentError", "Message": "The request had some invalid properties"}}',
            "BadArgumentError",
            "The request had some invalid properties",
        ),
        (b'{"Code": "InvalidParameter", "Message": "bad top"}', "InvalidParameter", "bad top"),
        (
            b'{"odata.error": {"code": "Request_BadRequest", "message": {"lang": "en", "value": "Invalid filter"}}}',
            "Request_BadRequest",
            "Invalid filter",
        ),
    ],
)
def test_error_bodies_in_other_casings_keep_code_and_message(body: bytes, code: str, message: str) -> None:
    error = map_status_error(404, {}, body)
    assert (type(error), error.code, error.message) == (NotFoundError, code, message)


def test_G2_unsupported_api_version_code_raises_unsupported_api_version_error() -> None:
    body = (
        b'{"error": {"code": "UnsupportedApiVersion", "message": "The HTTP resource that matches the request '
        b"URI 'https://management.azure.com/subscriptions/s' does not support the API version '2020-01-01'.\"}}"
    )
    error = map_status_error(400, {}, body, url=SPEC.url)
    assert type(error) is UnsupportedApiVersionError
    assert (error.code, error.api_version, error.kind) == ("UnsupportedApiVersion", "2020-01-01", None)
    assert error.remediation == (
        "The service does not accept api-version 2020-01-01; use an api-version that declares it "
        "(see m365sentinel ApiVersions)."
    )
