"""`sluice apply` against an in-memory stand-in for the API, and `sluice` exit codes."""
from __future__ import annotations

import itertools

import pytest

from cli.main import build_parser, main
from cli.apply import apply_spec
from sluice.errors import SluiceError as ApiError
from cli.localservices import free_port

SPEC = {
    "namespace": "demo",
    "buckets": [{"bucket_name": "articles", "description": "raw", "unique_key": {"fields": ["sku"]}}],
    "connections": [{"name": "src", "type": "bucket", "config": {"bucket_id": "articles"}},
                    {"name": "dst", "type": "mongodb", "config": {"uri": "mongodb://u:pw@h/db"}}],
    "pipelines": [{"alias": "export", "code": "function transform(r) { return r; }",
                   "source": {"connection_id": "src"}, "destination": {"connection_id": "dst", "collection": "out"},
                   "schedule": "1h"}],
}


class FakeApi:
    """Just enough of the API for buckets, connections, pipelines and namespaces."""

    def __init__(self):
        self.namespaces: set[str] = set()
        self.rows: dict[str, dict[str, dict]] = {"buckets": {}, "connections": {}, "pipelines": {}}
        self.calls: list[tuple[str, str]] = []
        self.ids = itertools.count(1)

    @property
    def http(self):
        return self  # stands in for the SDK client and its transport alike

    def in_namespace(self, namespace):
        return self

    def pages(self, method, path, **kw):
        return iter(self.get_list(path))

    def _row(self, kind, ref):
        rows = self.rows[kind]
        return rows.get(ref) or next((r for r in rows.values() if ref in (r.get("bucket_name"), r.get("name"))), None)

    def find(self, path):
        _, _, kind, ref = path.split("/")
        if kind == "namespaces":
            return {"namespace_name": ref} if ref in self.namespaces else None
        return self._row(kind, ref)

    def get_list(self, path):
        return list(self.rows["pipelines"].values())

    def post(self, path, body=None):
        self.calls.append(("POST", path))
        kind = path.split("/")[2]
        if kind == "namespaces":
            self.namespaces.add(body["namespace_name"])
            return {"namespace_id": "ns_1"}
        ident = f"{kind[:3]}_{next(self.ids)}"
        if kind == "buckets":
            row = {**body, "bucket_id": ident, "unique_key": {**body["unique_key"], "default_policy": "upsert"}}
        elif kind == "connections":
            cfg = dict(body["config"])
            if "bucket_id" in cfg:
                cfg["bucket_id"] = self._row("buckets", cfg["bucket_id"])["bucket_id"]
            if "uri" in cfg:
                cfg["uri"] = cfg["uri"].replace(":pw@", ":****@")
            row = {**body, "config": cfg, "connection_id": ident}
        else:
            row = {"pipeline_id": ident, "alias": body["alias"], "code": body["code"], "enabled": True,
                   "metadata": {}, "update_time_field": None, "incremental": False, "js_limits": None,
                   "schedule": None,
                   "connections": {"source": {"filters": None, "collection": None, **body["source"]},
                                   "destination": {"metadata": {}, "collection": None, **body["destination"]}}}
        self.rows[kind][ident] = row
        return row

    def put(self, path, body=None):
        self.calls.append(("PUT", path))
        parts = path.split("/")
        row = self.rows["pipelines"][parts[3]]
        if parts[-1] == "schedule":
            row["schedule"] = {"period": body["period"]} if body["period"] else None
        else:
            row.update(code=body["code"])
        return None

    def patch(self, path, body=None):
        self.calls.append(("PATCH", path))
        kind, ident = path.split("/")[2:4]
        self.rows[kind][ident].update(body)
        return self.rows[kind][ident]


def test_apply_creates_in_order_then_changes_nothing_the_second_time():
    api, lines = FakeApi(), []
    first = apply_spec(api, SPEC, out=lines.append)
    assert [o.action for o in first.outcomes] == ["created"] * 5
    assert [line.split()[1:3] for line in lines[:-1]] == [
        ["namespace", "demo"], ["bucket", "articles"], ["connection", "src"], ["connection", "dst"],
        ["pipeline", "export"]]
    assert api.calls[-1] == ("PUT", "/v1/pipelines/pip_4/schedule")
    api.calls.clear()
    lines.clear()
    second = apply_spec(api, SPEC, out=lines.append)
    assert [o.action for o in second.outcomes] == ["unchanged"] * 5 and api.calls == []
    assert lines[-1] == "apply: 0 created, 0 updated, 5 unchanged"


def test_apply_updates_only_what_changed_and_reports_what_it_cannot():
    api = FakeApi()
    apply_spec(api, SPEC, out=lambda _: None)
    changed = {**SPEC, "buckets": [{**SPEC["buckets"][0], "description": "cooked", "unique_key": {"fields": ["id"]}}],
               "pipelines": [{**SPEC["pipelines"][0], "code": "function transform(r) { return null; }"}]}
    api.calls.clear()
    lines: list[str] = []
    result = apply_spec(api, changed, out=lines.append)
    assert api.calls == [("PATCH", "/v1/buckets/buc_1"), ("PUT", "/v1/pipelines/pip_4")]
    assert "updated   bucket     articles  (description)" in lines
    assert any(line.startswith("warning: bucket 'articles': unique_key differs") for line in lines)
    assert result.count("updated") == 2


def test_api_errors_name_the_resource_and_stop():
    api = FakeApi()

    def refuse(path, body=None):
        raise ApiError(400, "validation_error", "invalid", [{"path": "config.bucket_id", "message": "no"}],
                       "POST", path)
    api.post = refuse
    api.namespaces.add("demo")
    with pytest.raises(ApiError, match=r"bucket 'articles' \(buckets.0\): invalid"):
        apply_spec(api, SPEC, out=lambda _: None)


def test_cli_exit_codes_without_a_server(tmp_path, capsys):
    assert main(["apply", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("buckets: [{}]\n")
    assert main(["apply", str(tmp_path / "bad.yaml")]) == 2
    assert "buckets.0.bucket_name: is required" in capsys.readouterr().err
    assert main(["--url", f"http://127.0.0.1:{free_port()}", "status", "bat_1"]) == 3
    assert "connection_error" in capsys.readouterr().err
    assert main(["status", "nope"]) == 2


def test_api_options_go_before_or_after_the_subcommand():
    args = build_parser().parse_args(["--url", "http://a", "trigger", "c", "--key", "k", "-n", "ns", "--wait",
                                      "--object-id", "o1", "o2", "--object-id", "o3"])
    assert (args.url, args.key, args.namespace, args.wait) == ("http://a", "k", "ns", True)
    assert args.object_ids == ["o1", "o2", "o3"]
    run = build_parser().parse_args(["run", "p", "--full"])
    assert run.incremental is False and run.url is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "p", "--full", "--incremental"])
