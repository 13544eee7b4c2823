"""The commands `sluice api` and `sluice up` run: a production WSGI server, never Flask's
development server, with the worker count asked for."""
from __future__ import annotations

import pytest

from cli import procs
from cli.main import build_parser


def test_api_runs_under_gunicorn_with_the_workers_and_threads_asked_for():
    cmd = procs.api_cmd(8123, workers=5, threads=3)
    assert cmd[1:3] == ["-m", "gunicorn"]
    assert cmd[cmd.index("--workers") + 1] == "5" and cmd[cmd.index("--threads") + 1] == "3"
    assert cmd[cmd.index("--bind") + 1] == "127.0.0.1:8123"
    assert cmd[-1] == "api.wsgi:create()"
    assert "flask" not in cmd


def test_sluice_api_passes_workers_threads_and_host_through(monkeypatch):
    ran: list[list[str]] = []
    monkeypatch.setattr("cli.main._exec", lambda cmd: ran.append(cmd) or 0)
    from cli.main import main

    assert main(["api", "--port", "9001", "--workers", "3", "--threads", "2", "--host", "0.0.0.0"]) == 0
    cmd = ran[0]
    assert cmd[cmd.index("--workers") + 1] == "3" and cmd[cmd.index("--threads") + 1] == "2"
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:9001"
    assert build_parser().parse_args(["up", "--api-workers", "4"]).api_workers == 4


def test_a_missing_gunicorn_is_a_loud_refusal_not_a_slow_fallback(monkeypatch):
    monkeypatch.setattr(procs, "has_module", lambda name: name != "gunicorn")
    with pytest.raises(SystemExit, match="gunicorn is not installed"):
        procs.api_cmd(8000)


def test_gunicorn_is_a_hard_dependency():
    import tomllib

    from tests.support.processes import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("gunicorn") for d in project["dependencies"])
