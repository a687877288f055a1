"""Every exception class pickles and unpickles with its fields (issue 10): a worker process raising one must not
break a ProcessPoolExecutor."""

from __future__ import annotations

import inspect
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import m365sentinel
from m365sentinel import SentinelError

# Realistic constructor arguments per class; a class missing here (a new one) is built from its signature.
_API = {
    "status_code": 404,
    "code": "ResourceNotFound",
    "request_id": "7f1c2d3e-0000-4000-8000-000000000001",
    "method": "GET",
    "url": "https://management.azure.com/subscriptions/x/providers/Microsoft.SecurityInsights/incidents/1",
    "body": {"error": {"code": "ResourceNotFound", "message": "not found"}},
}
REALISTIC: dict[str, tuple[tuple[object, ...], dict[str, object]]] = {
    "APIStatusError": (("Something failed",), {**_API, "status_code": 418, "remediation": "retry later"}),
    "BadRequestError": (("Bad filter",), {**_API, "status_code": 400, "code": "BadRequest"}),
    "UnsupportedApiVersionError": (
        ("kind not supported",),
        {**_API, "status_code": 400, "kind": "MicrosoftThreatProtection", "api_version": "2023-02-01"},
    ),
    "AuthenticationError": (("token rejected",), {**_API, "status_code": 401}),
    "PermissionDeniedError": (("forbidden",), {**_API, "status_code": 403}),
    "ConsentRequiredError": (("licence",), {**_API, "status_code": 403, "remediation": "assign an E5 licence"}),
    "NotFoundError": (("Incident not found",), _API),
    "ConflictError": (("etag conflict",), {**_API, "status_code": 409}),
    "PreconditionFailedError": (("etag mismatch",), {**_API, "status_code": 412}),
    "RateLimitedError": (("throttled",), {**_API, "status_code": 429, "retry_after": 603.0}),
    "ServerError": (("unavailable",), {**_API, "status_code": 503}),
    "QueryError": (
        ("Syntax error at 1:5",),
        {
            "code": "SyntaxError",
            "inner": [{"code": "SYN0002", "message": "x"}],
            "query": "T | wher x",
            "status_code": 400,
            "request_id": "7f1c2d3e-0000-4000-8000-000000000002",
        },
    ),
    "QueryLimitError": (
        ("100000 rows: the result may be cut",),
        {"limit": "rows", "code": "ResultTooLarge", "inner": None, "query": "DeviceEvents"},
    ),
    "PreflightError": (("cannot apply",), {"problems": ("Sentinel is not onboarded", "licence missing")}),
    "StalePlanError": (
        ("dataConnectors/x changed",),
        {"resource_id": "x", "planned_etag": '"1"', "current_etag": '"2"'},
    ),
    "PartialApplyError": (("stopped at alertRules/r",), {"applied": ("a",), "not_applied": ("b", "c")}),
    "CheckpointConflictError": (("another worker committed",), {"expected": "3", "actual": "4"}),
}


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


# Every exported name loaded first: some modules (the chart writers, the blob store) load on first use, and the tree
# must not depend on which tests ran before this one.
for _name in m365sentinel.__all__:
    getattr(m365sentinel, _name)
CLASSES = sorted({SentinelError, *_all_subclasses(SentinelError)}, key=lambda c: c.__name__)


def _build(cls: type[SentinelError]) -> SentinelError:
    if cls.__name__ in REALISTIC:
        args, kwargs = REALISTIC[cls.__name__]
        return cls(*args, **kwargs)
    # A class added later: its required parameters filled from their names (the first positional is the message).
    args: list[object] = []
    kwargs: dict[str, object] = {}
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    for p in params:
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = f"{cls.__name__} happened" if not args and not kwargs else _API.get(p.name, f"{p.name} value")
        if p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


def _fields(exc: BaseException) -> dict[str, object]:
    return {k: v for k, v in vars(exc).items() if not k.startswith("_")}


def test_every_exported_exception_is_in_the_tree():
    exported = {
        n
        for n in m365sentinel.__all__
        if isinstance(getattr(m365sentinel, n), type) and issubclass(getattr(m365sentinel, n), BaseException)
    }
    assert exported <= {c.__name__ for c in CLASSES}
    assert len(CLASSES) >= 26


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_exception_round_trips_through_pickle_with_its_fields(cls):
    exc = _build(cls)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(exc, protocol=protocol))
        assert type(back) is cls
        assert back.args == exc.args
        assert str(back) == str(exc)
        assert _fields(back) == _fields(exc)
    if cls.__name__ in REALISTIC:  # the realistic fields are really there (not only equal because both lack them)
        assert set(REALISTIC[cls.__name__][1]) <= set(_fields(exc))


def _raise_not_found(incident: str) -> str:
    raise m365sentinel.NotFoundError(
        f"Incident {incident} not found",
        status_code=404,
        code="NotFound",
        request_id="r-1",
        url=f"/incidents/{incident}",
    )


def test_not_found_raised_in_a_process_pool_worker_reaches_the_caller_intact():
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_raise_not_found, "42")
        with pytest.raises(m365sentinel.NotFoundError) as info:
            future.result(timeout=60)
        assert pool.submit(str, 1).result(timeout=60) == "1"  # the pool still works
    exc = info.value
    assert (exc.status_code, exc.code, exc.request_id, exc.url) == (404, "NotFound", "r-1", "/incidents/42")
    assert str(exc) == "404 NotFound: Incident 42 not found [request id r-1]"
