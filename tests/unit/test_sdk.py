"""The sluice SDK's own logic without a server: retry policy, error families, pagination,
bulk-upload splitting, waiting, and its copy of the terminal statuses."""
from __future__ import annotations

import json
from json import dumps

import pytest
import requests

from shared.status import TERMINAL as SERVER_TERMINAL
from sluice import Sluice
from sluice._http import Transport, may_retry
from sluice.errors import (AuthError, ConflictError, JobFailed, NotFoundError, RateLimitedError, TimeoutExpired,
                           UnavailableError, UnprocessableError, ValidationError, error_from_response)
from sluice.resources.data import _batches
from sluice.status import TERMINAL


def test_the_sdk_copy_of_terminal_statuses_equals_the_servers():
    for kind in ("batch", "run", "streaming"):
        assert TERMINAL[kind] == {s.value for s in SERVER_TERMINAL[kind]}, kind
    assert TERMINAL["task"] == TERMINAL["batch"]  # a task is a batch's public face


@pytest.mark.parametrize("status,cls", [(400, ValidationError), (401, AuthError), (403, AuthError),
                                        (404, NotFoundError), (409, ConflictError), (422, UnprocessableError),
                                        (429, RateLimitedError), (503, UnavailableError), (500, UnavailableError)])
def test_one_exception_class_per_family(status, cls):
    text = json.dumps({"error": {"code": "c", "message": "m", "status": status,
                                 "details": [{"path": "a.b", "message": "bad"}]}})
    err = error_from_response(status, text, "POST", "/v1/x", retry_after="3")
    assert type(err) is cls and (err.status, err.code, err.message) == (status, "c", "m")
    assert err.details == [{"path": "a.b", "message": "bad"}] and err.retry_after == 3.0
    assert "a.b: bad" in str(err)


@pytest.mark.parametrize("method,headers,status,retried", [
    ("GET", None, 503, True), ("GET", None, 0, True), ("GET", None, 429, True), ("PUT", None, 503, True),
    ("DELETE", None, 0, True), ("GET", None, 500, False), ("GET", None, 404, False),
    ("POST", None, 503, False), ("POST", None, 0, False), ("PATCH", None, 503, False),
    ("POST", {"Idempotency-Key": "k"}, 503, True), ("POST", {"idempotency-key": "k"}, 0, True),
    ("POST", None, 429, True), ("PATCH", None, 429, True)])
def test_only_calls_safe_to_repeat_are_retried(method, headers, status, retried):
    assert may_retry(method, headers, status) is retried


class FakeSession:
    """Answers from a script: (status, json body, headers) or an exception."""

    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def request(self, method, url, json=None, params=None, headers=None, timeout=None):  # noqa: A002
        self.sent.append({"method": method, "url": url, "json": json, "params": params, "headers": headers})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, hdrs = (*answer, {})[:3]
        resp = requests.Response()
        resp.status_code, resp._content = status, (b"" if body is None else dumps(body).encode())
        resp.headers.update(hdrs)
        return resp


def client_with(answers) -> tuple[Sluice, FakeSession, list[float]]:
    session, slept = FakeSession(answers), []
    client = Sluice("sk_t", url="http://api", namespace="ns", session=session, env={})
    client.http.sleep = slept.append
    return client, session, slept


BUSY = (503, {"error": {"code": "service_unavailable", "message": "busy", "status": 503, "details": []}})


def test_a_get_rides_out_connection_errors_and_503_honouring_retry_after():
    limited = (429, {"error": {"code": "too_many_requests", "message": "slow", "status": 429, "details": []}},
               {"Retry-After": "2"})
    client, session, slept = client_with([requests.ConnectionError("down"), BUSY, limited,
                                          (200, {"batch_id": "bat_1", "status": "PENDING"})])
    assert client.batches.get("bat_1")["batch_id"] == "bat_1"
    assert len(session.sent) == 4 and slept[2] >= 2.0
    assert session.sent[0]["headers"]["Authorization"] == "Bearer sk_t"
    assert session.sent[0]["headers"]["X-Namespace"] == "ns"


def test_a_plain_post_is_sent_once_but_a_keyed_trigger_is_retried():
    client, session, _ = client_with([BUSY])
    with pytest.raises(UnavailableError):
        client.pipelines.run("pipe_1")
    assert len(session.sent) == 1
    client, session, _ = client_with([BUSY, (200, {"batch_id": "bat_1"})])
    assert client.collections.trigger("c", idempotency_key="k1")["batch_id"] == "bat_1"
    assert [s["headers"]["Idempotency-Key"] for s in session.sent] == ["k1", "k1"]


def test_lists_follow_next_cursor_and_stop_at_limit():
    pages = [(200, {"results": [{"i": 1}, {"i": 2}], "pagination": {"next_cursor": "c2"}}),
             (200, {"results": [{"i": 3}], "pagination": {"next_cursor": None}})]
    client, session, _ = client_with(pages)
    assert [b["i"] for b in client.buckets.list(filters={"x": 1})] == [1, 2, 3]
    assert session.sent[0]["json"] == {"filters": {"x": 1}, "limit": 100}
    assert session.sent[1]["json"] == {"filters": {"x": 1}, "limit": 100, "cursor": "c2"}
    client, session, _ = client_with(pages[:1])
    assert [r["i"] for r in client.runs.errors("run_1", limit=1)] == [1]
    assert session.sent[0]["params"] == {"limit": 1} and session.sent[0]["method"] == "GET"


def test_uploads_split_by_count_and_by_body_size():
    items = [{"data": {"n": i}} for i in range(25)]
    assert [(o, len(c)) for o, c in _batches(iter(items), 10, 10**6)] == [(0, 10), (10, 10), (20, 5)]
    big = [{"data": {"s": "x" * 100}} for _ in range(5)]
    assert [len(c) for _, c in _batches(big, 1000, 250)] == [2, 2, 1]


def test_upload_reports_progress_and_counts_indices_over_the_whole_iterable():
    spec = (200, {"info": {"x-sluice-limits": {"max_batch_objects": 2, "max_body_bytes": 10**6}}})
    ok = lambda n: (200, {"results": [{"index": i, "outcome": "created"} for i in range(n)],  # noqa: E731
                          "summary": {"created": n}})
    refused = (400, {"error": {"code": "validation_error", "message": "invalid batch", "status": 400,
                               "details": [{"path": "objects.1.data", "message": "must be an object"}]}})
    client, session, _ = client_with([spec, ok(2), ok(2), refused])
    seen = []
    with pytest.raises(ValidationError) as info:
        client.objects.upload("b", [{"data": {"n": i}} for i in range(6)], progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 6), (4, 6)]
    assert info.value.details == [{"path": "objects.5.data", "message": "must be an object"}]
    assert "4 object(s) before index 4 were written" in info.value.message
    client, _, _ = client_with([spec, ok(2), ok(1)])
    out = client.objects.upload("b", ({"data": {}} for _ in range(3)))
    assert out["summary"] == {"created": 3} and [r["index"] for r in out["results"]] == [0, 1, 2]


def test_wait_polls_until_terminal_and_raises_as_asked():
    views = [(200, {"batch_id": "bat_1", "status": s, "tiers": []}) for s in ("PENDING", "PROCESSING", "FAILED")]
    client, session, _ = client_with(views)
    client.http.sleep = lambda _: None
    assert client.batches.wait("bat_1")["status"] == "FAILED" and len(session.sent) == 3
    client, _, _ = client_with(views[-1:])
    with pytest.raises(JobFailed) as info:
        client.batches.wait("bat_1", raise_on_failure=True)
    assert info.value.view["status"] == "FAILED"
    client, _, _ = client_with([(200, {"id": "run_1", "status": "RUNNING"})] * 50)
    with pytest.raises(TimeoutExpired):
        client.runs.wait("run_1", timeout=0.3)


def test_settings_come_from_arguments_then_environment():
    env = {"SLUICE_URL": "http://h:1/", "SLUICE_API_KEY": "sk_env", "SLUICE_NAMESPACE": "team"}
    c = Sluice(env=env)
    assert (c.url, c.http.key, c.namespace) == ("http://h:1", "sk_env", "team")
    c = Sluice("sk_arg", url="http://x", namespace="other", env=env)
    assert (c.url, c.http.key, c.namespace) == ("http://x", "sk_arg", "other")
    assert c.in_namespace("b").namespace == "b" and c.in_namespace("b").http.session is c.http.session


def test_a_transport_without_namespace_sends_no_header():
    t = Transport("http://x", "k", None)
    assert "X-Namespace" not in t.headers()


def test_runs_pause_resume_and_cancel_post_to_the_run_and_a_finished_run_raises_conflict():
    finished = (409, {"error": {"code": "run_finished", "message": "run is already COMPLETED", "status": 409,
                                "details": []}})
    client, session, _ = client_with([(200, {"id": "run_1", "status": "PAUSED"}),
                                      (200, {"id": "run_1", "status": "RUNNING"}),
                                      (200, {"id": "run_1", "status": "CANCELED"}), finished])
    assert client.runs.pause("run_1")["status"] == "PAUSED"
    assert client.runs.resume("run_1")["status"] == "RUNNING"
    assert client.runs.cancel("run_1")["status"] == "CANCELED"
    with pytest.raises(ConflictError) as err:
        client.runs.cancel("run_1")
    assert err.value.code == "run_finished"
    assert [(s["method"], s["url"].rsplit("/v1", 1)[1]) for s in session.sent] == [
        ("POST", "/pipelines/runs/run_1/pause"), ("POST", "/pipelines/runs/run_1/resume"),
        ("POST", "/pipelines/runs/run_1/cancel"), ("POST", "/pipelines/runs/run_1/cancel")]
