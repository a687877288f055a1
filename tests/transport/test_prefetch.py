"""Prefetching the next page: requested while the caller handles the current one; outcome delivered in order."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from m365sentinel._errors import NotFoundError
from m365sentinel._transport import Cloud, HttpClient, arm_request

from .conftest import ARM, WS, FakeCredential

CLOUD = Cloud.resolve("AzureCloud")
FIRST = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")
LINK2 = f"{ARM}{WS}/incidents?api-version=2025-09-01&$skipToken=2"
LINK3 = f"{ARM}{WS}/incidents?api-version=2025-09-01&$skipToken=3"


class Pages(httpx.BaseTransport):
    """Three linked pages; records each URL requested; ``gate`` holds page 2 back until set."""

    def __init__(self, *, page2_status: int = 200) -> None:
        self.seen: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.page2_status = page2_status

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.seen.append(url)
        if url == LINK2:
            self.gate.wait(5)
            if self.page2_status != 200:
                return httpx.Response(self.page2_status, json={"error": {"code": "NotFound", "message": "gone"}})
            return httpx.Response(200, json={"value": [{"name": "b"}], "nextLink": LINK3})
        if url == LINK3:
            return httpx.Response(200, json={"value": [{"name": "c"}]})
        return httpx.Response(200, json={"value": [{"name": "a"}], "nextLink": LINK2})


def client(transport: Pages) -> HttpClient:
    return HttpClient(CLOUD, FakeCredential(), transport=transport, sleep=lambda s: None)


def wait_for(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_the_next_page_is_requested_while_the_caller_handles_this_one():
    pages = Pages()
    with client(pages) as http:
        it = http.iter_page_responses(FIRST, prefetch=True)
        page, response = next(it)
        assert page["value"] == [{"name": "a"}] and response.status_code == 200
        assert wait_for(lambda: len(pages.seen) == 2)  # nobody asked for page 2 yet
        assert [p["value"][0]["name"] for p, _ in it] == ["b", "c"]
    assert pages.seen == [FIRST.url, LINK2, LINK3]


def test_without_prefetch_nothing_is_requested_ahead():
    pages = Pages()
    with client(pages) as http:
        it = http.iter_page_responses(FIRST)
        next(it)
        time.sleep(0.1)
        assert pages.seen == [FIRST.url]
        assert [p["value"][0]["name"] for p, _ in it] == ["b", "c"]


def test_a_prefetched_error_is_raised_where_the_next_page_is_asked_for():
    pages = Pages(page2_status=404)
    with client(pages) as http:
        it = http.iter_page_responses(FIRST, prefetch=True)
        page, _ = next(it)  # page 1 intact, although page 2 already failed in the background
        assert wait_for(lambda: len(pages.seen) == 2)
        assert page["value"] == [{"name": "a"}]
        with pytest.raises(NotFoundError, match="gone"):
            next(it)


def test_closing_early_abandons_the_prefetch_and_close_does_not_wait_for_it():
    pages = Pages()
    pages.gate.clear()  # page 2 is in flight when the caller stops
    http = client(pages)
    it = http.iter_page_responses(FIRST, prefetch=True)
    next(it)
    assert wait_for(lambda: len(pages.seen) == 2)
    it.close()
    started = time.monotonic()
    http.close()
    assert time.monotonic() - started < 1.0  # the gated request is still in flight
    pages.gate.set()  # it ends in the background; its page is discarded
    assert pages.seen == [FIRST.url, LINK2]


def test_a_predicate_decides_page_by_page():
    pages = Pages()
    asked: list[str] = []

    def only_after_a(page):
        asked.append(page["value"][0]["name"])
        return page["value"][0]["name"] == "a"

    with client(pages) as http:
        assert [p["value"][0]["name"] for p, _ in http.iter_page_responses(FIRST, prefetch=only_after_a)] == [
            "a",
            "b",
            "c",
        ]
    assert asked == ["a", "b"]  # the last page has no link: nothing to decide


def test_closing_the_client_between_pages_raises_client_closed_as_without_prefetch():
    from m365sentinel._errors import ClientClosedError

    for prefetch in (True, False):
        pages = Pages()
        http = client(pages)
        it = http.iter_page_responses(FIRST, prefetch=prefetch)
        next(it)
        if prefetch:
            assert wait_for(lambda p=pages: len(p.seen) == 2)  # page 2 already fetched in the background
        http.close()
        with pytest.raises(ClientClosedError, match="the client is closed"):
            next(it)  # the prefetched page is not delivered after close


class HeldAnswer:
    """One loopback HTTP/1.1 exchange whose answer waits for ``release`` (at most ``hold`` seconds)."""

    def __init__(self, hold: float = 3.0) -> None:
        import socket

        self.got_request, self.release = threading.Event(), threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, args=(hold,), daemon=True).start()

    def _serve(self, hold: float) -> None:
        conn, _ = self._listener.accept()
        with conn, self._listener:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            self.got_request.set()
            self.release.wait(hold)
            body = b'{"value": []}'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )


def test_a_prefetch_is_on_the_wire_when_submit_returns_so_the_service_starts_at_once(monkeypatch):
    # The caller handing out items holds the GIL: without waiting for the request to be written (httpcore's trace
    # hook says when), the woken thread waited a switch interval per step and the service heard of the next page late.
    from m365sentinel._transport import _client

    monkeypatch.setattr(_client, "_SENT_WAIT", 30.0)
    server = HeldAnswer()
    cloud = Cloud.custom(arm=server.url, log_analytics=server.url, graph=server.url)
    with HttpClient(cloud, FakeCredential(), sleep=lambda s: None) as http:
        prefetcher = _client._Prefetcher(http.send)
        spec = arm_request(cloud, "GET", WS + "/incidents", "2025-09-01")
        future = prefetcher.submit(spec)
        assert server.got_request.wait(5) and not future.done()  # returned before the answer (held 3 s)
        server.release.set()
        response = future.result(5)
        assert not response.is_stream_consumed  # the body waits for the caller's thread
        assert http._read_prefetched(response, spec).json() == {"value": []}
        prefetcher.stop()


def test_a_prefetch_that_fails_before_sending_does_not_hold_submit(monkeypatch):
    from m365sentinel._transport import _client

    monkeypatch.setattr(_client, "_SENT_WAIT", 30.0)
    prefetcher = _client._Prefetcher(lambda spec: (_ for _ in ()).throw(NotFoundError("gone", status_code=404)))
    started = time.monotonic()
    future = prefetcher.submit(FIRST)
    with pytest.raises(NotFoundError):
        future.result(0)
    assert time.monotonic() - started < 25  # the failure released it, not the 30 s wait
    prefetcher.stop()


class BrokenBody(httpx.SyncByteStream):
    def __iter__(self):
        yield b'{"value": ['
        raise httpx.ReadError("connection reset mid-body")


def test_a_prefetched_body_cut_off_while_the_caller_reads_it_is_fetched_again():
    # The worker hands over a 2xx page unread; a transport error while the caller's thread reads it is the same
    # failure ``send`` retries: the page is fetched again, and the caller sees it whole.
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if url == LINK2 and seen.count(LINK2) == 1:
            return httpx.Response(200, stream=BrokenBody())
        if url == LINK2:
            return httpx.Response(200, json={"value": [{"name": "b"}]})
        return httpx.Response(200, json={"value": [{"name": "a"}], "nextLink": LINK2})

    with HttpClient(CLOUD, FakeCredential(), transport=httpx.MockTransport(answer), sleep=lambda s: None) as http:
        pages = [p["value"][0]["name"] for p, _ in http.iter_page_responses(FIRST, prefetch=True)]
    assert pages == ["a", "b"] and seen == [FIRST.url, LINK2, LINK2]


def test_a_prefetched_page_nobody_asks_for_gives_its_connection_back():
    closed = threading.Event()

    class Body(httpx.SyncByteStream):
        def __iter__(self):
            yield b'{"value": [{"name": "b"}]}'

        def close(self) -> None:
            closed.set()

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == LINK2:
            return httpx.Response(200, stream=Body())
        return httpx.Response(200, json={"value": [{"name": "a"}], "nextLink": LINK2})

    with HttpClient(CLOUD, FakeCredential(), transport=httpx.MockTransport(answer), sleep=lambda s: None) as http:
        it = http.iter_page_responses(FIRST, prefetch=True)
        next(it)
        it.close()  # page 2 was fetched (or is on its way) for nobody
        assert closed.wait(5)
