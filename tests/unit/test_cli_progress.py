"""The CLI's pure parts: exit codes, error rendering, and the progress bars and plain-text watcher
it shares with the SDK (sluice/progress.py)."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from cli.errors import exit_code, exit_code_for_http, exit_code_for_status, format_error
from cli.localservices import free_port
from cli.ops import patient, status_path
from sluice import Sluice
from sluice._http import Transport
from sluice.errors import SluiceError as ApiError
from sluice.errors import error_from_response
from sluice.progress import WatchAborted, batch_bars, run_bars, summary_line, watch


@pytest.mark.parametrize("status,code", [("COMPLETED", 0), ("COMPLETED_WITH_ERRORS", 0), ("FAILED", 1),
                                         ("CANCELED", 1), ("PROCESSING", 1)])
def test_exit_code_for_a_finished_batch_or_run(status, code):
    assert exit_code_for_status(status) == code


@pytest.mark.parametrize("http,code", [(400, 2), (404, 2), (409, 2), (422, 2), (500, 3), (503, 3), (0, 3)])
def test_exit_code_for_an_api_error(http, code):
    assert exit_code_for_http(http) == code
    assert exit_code(ApiError(http, "x", "m")) == code


def test_envelope_errors_print_one_line_per_detail():
    body = ('{"error": {"code": "validation_error", "message": "invalid request: 2 problem(s)", "status": 400, '
            '"details": [{"path": "source.filters.AND.0.operator", "message": "unknown operator"}, '
            '{"path": "", "message": "something general"}]}}')
    err = error_from_response(400, body, "POST", "/v1/collections")
    assert (err.status, err.code, exit_code(err)) == (400, "validation_error", 2)
    assert format_error(err).splitlines() == [
        "error: 400 validation_error: invalid request: 2 problem(s)  (POST /v1/collections)",
        "  source.filters.AND.0.operator: unknown operator",
        "  something general"]


def test_a_body_that_is_not_our_envelope_still_reads_well():
    err = error_from_response(502, "<html><body>Bad   gateway</body></html>", "GET", "/v1/batches/bat_1")
    assert exit_code(err) == 3 and err.code == "http_error" and "Bad gateway" in err.message


def test_no_server_is_a_connection_error_with_exit_code_3():
    client = Transport(f"http://127.0.0.1:{free_port()}", "k", timeout=2, sleep=lambda _: None)
    with pytest.raises(ApiError) as info:
        client.get("/v1/batches/bat_1")
    assert info.value.status == 0 and exit_code(info.value) == 3
    assert "connection refused" in format_error(info.value)


def test_client_settings_come_from_flags_then_environment():
    env = {"SLUICE_URL": "http://h:1/", "SLUICE_API_KEY": "sk_env", "SLUICE_NAMESPACE": "ns"}
    c = Sluice(env=env).http
    assert (c.url, c.key, c.namespace) == ("http://h:1", "sk_env", "ns")
    assert c.headers()["Authorization"] == "Bearer sk_env" and c.headers()["X-Namespace"] == "ns"
    c = Sluice("sk_flag", url="http://x", namespace="other", env=env).http
    assert (c.url, c.key, c.namespace) == ("http://x", "sk_flag", "other")
    assert Sluice(env={}).url == "http://127.0.0.1:8000"
    assert Sluice(env={}).namespace == "default"


@pytest.mark.parametrize("ident,path", [("bat_1", "/v1/batches/bat_1"), ("run_1", "/v1/pipelines/runs/run_1"),
                                        ("tsk_1", "/v1/tasks/tsk_1"), ("col_1", None)])
def test_status_dispatch_by_id_prefix(ident, path):
    assert status_path(ident) == path


def batch_view(status: str, done: int) -> dict:
    return {"batch_id": "bat_1", "status": status, "tiers": [
        {"tier_num": 0, "status": "COMPLETED", "collection_ids": ["col_a"],
         "progress": {"processed": 10, "total": 10}, "counters": {"processed": 10, "failed": 0, "written": 30}},
        {"tier_num": 1, "status": "PROCESSING", "collection_ids": ["col_b", "col_c"],
         "progress": {"processed": done, "total": 30}, "counters": {"processed": done, "failed": 1, "written": done}},
        {"tier_num": 2, "status": "PENDING", "collection_ids": ["col_d"],
         "progress": {"processed": 0, "total": 0}, "counters": {}}]}


def test_batch_bars_one_per_tier():
    bars = batch_bars(batch_view("PROCESSING", 12), names=lambda c: {"col_a": "chunks"}.get(c, c))
    assert [(b.label, b.completed, b.total) for b in bars] == [
        ("tier 0 chunks", 10, 10), ("tier 1 col_b, col_c", 12, 30), ("tier 2 col_d", 0, None)]
    assert "failed 1" in bars[1].info and bars[0].done and not bars[1].done


def test_run_bars_are_a_funnel_against_the_records_to_read():
    view = {"id": "run_1", "status": "COMPLETED", "steps": ["read", "filter", "transform", "validate", "write"],
            "passed": [40, 20, 18, 18, 18], "failed": [0, 0, 2, 0, 0], "progress": {"read": 40, "total": 40}}
    bars = run_bars(view)
    assert [(b.label, b.completed, b.total) for b in bars] == [
        ("read", 40, 40), ("filter", 20, 40), ("transform", 20, 40), ("validate", 18, 40), ("write", 18, 40)]
    assert bars[1].info == "passed 20  failed 0  dropped 20" and bars[2].info == "passed 18  failed 2"
    empty = run_bars({"status": "COMPLETED", "steps": ["read"], "passed": [0], "failed": [0], "progress": {}})
    assert (empty[0].completed, empty[0].total) == (0, 0)


def test_summary_line_is_one_greppable_line():
    view = batch_view("PROCESSING", 12)
    line = summary_line("batch", view, batch_bars(view), 2.0)
    assert line.startswith("[   2.0s] bat_1 PROCESSING | tier 0 col_a 10/10") and "\n" not in line
    assert "tier 2 col_d -/-" in line


def plain_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=300), buf


def test_watch_prints_plain_lines_until_a_terminal_status():
    views = iter([batch_view("PROCESSING", 0), batch_view("PROCESSING", 0), batch_view("PROCESSING", 15),
                  batch_view("COMPLETED", 30)])
    console, buf = plain_console()
    final = watch("batch", lambda: next(views), console, interval=0, plain_every=0)
    assert final["status"] == "COMPLETED"
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3  # the unchanged second poll prints nothing
    assert "COMPLETED" in lines[-1] and "30/30" in lines[-1]


def test_watch_gives_up_on_timeout_and_when_told_to():
    console, _ = plain_console()
    with pytest.raises(WatchAborted) as info:
        watch("batch", lambda: batch_view("PROCESSING", 1), console, interval=0.01, timeout=0.05)
    assert info.value.timeout
    with pytest.raises(WatchAborted, match="worker died"):
        watch("run", lambda: {"id": "run_1", "status": "RUNNING"}, console, interval=0,
              alive=lambda: "worker died")


def test_polling_rides_out_a_restarting_api_but_not_a_4xx():
    answers = iter([ApiError(0, "connection_error", "down"), ApiError(503, "service_unavailable", "busy"),
                    {"status": "COMPLETED"}])

    def fetch():
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a
    assert patient(fetch, pause=0)() == {"status": "COMPLETED"}

    def gone():
        raise ApiError(404, "batch_not_found", "no")
    with pytest.raises(ApiError, match="no"):
        patient(gone, pause=0)()
    with pytest.raises(ApiError, match="down"):
        patient(lambda: (_ for _ in ()).throw(ApiError(0, "connection_error", "down")), attempts=2, pause=0)()
