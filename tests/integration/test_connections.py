"""Connections through the API: CRUD, every 400 path, secret masking and the PATCH round
trip, 404/409, namespace isolation, and /test against real endpoints for each type."""
from __future__ import annotations

import json

import pytest
from pymongo.uri_parser import parse_uri

from shared.connectors.webhook import verify
from cli.localservices import free_port
from tests.support.http import HookServer
from tests.support.pipelines import create_connection


@pytest.fixture
def raw_bucket(api):
    status, body, _ = api.post("/v1/buckets", json={"bucket_name": "raw"})
    assert status == 201, body
    return body


@pytest.fixture
def mongo_host(services) -> str:
    host, port = parse_uri(services.mongo_url)["nodelist"][0]
    return f"{host}:{port}"


def stored(app, connection_id: str) -> dict:
    """The row as a worker reads it: secrets decrypted (raw MongoDB holds them encrypted)."""
    return app.extensions["sluice.stores"].connections.by_id(connection_id)


def raw_row(app, connection_id: str) -> dict:
    return app.extensions["sluice.stores"].connections.coll.find_one({"_id": connection_id})


def problem_paths(body: dict) -> set[str]:
    assert body["error"]["code"] == "validation_error", body
    return {d["path"] for d in body["error"]["details"]}


def test_crud_and_pagination(api, raw_bucket):
    conn = create_connection(api, "raw-src", "bucket", {"bucket_id": "raw"})  # a name, resolved to the id
    assert conn["connection_id"].startswith("conn_") and conn["type"] == "bucket"
    assert conn["config"] == {"bucket_id": raw_bucket["bucket_id"]} and conn["roles"] == ["source"]
    cid = conn["connection_id"]
    for ref in (cid, "raw-src"):
        status, body, _ = api.get(f"/v1/connections/{ref}")
        assert status == 200 and body["connection_id"] == cid and body["name"] == "raw-src"
    create_connection(api, "sink", "collection", {})
    create_connection(api, "hook", "webhook", {"url": "https://hooks.example/in"})
    status, page, _ = api.get("/v1/connections?limit=2")
    assert status == 200 and page["pagination"]["total"] == 3 and len(page["results"]) == 2
    status, rest, _ = api.get(f"/v1/connections?limit=2&cursor={page['pagination']['next_cursor']}")
    assert len(rest["results"]) == 1 and rest["pagination"]["next_cursor"] is None
    names = {c["name"] for c in page["results"] + rest["results"]}
    assert names == {"raw-src", "sink", "hook"}
    status, only, _ = api.get("/v1/connections?type=webhook")
    assert [c["name"] for c in only["results"]] == ["hook"]
    assert problem_paths(api.get("/v1/connections?type=ftp")[1]) == {"type"}
    assert problem_paths(api.get("/v1/connections?limit=0")[1]) == {"limit"}

    status, body, _ = api.patch(f"/v1/connections/{cid}", json={"name": "renamed"})
    assert status == 200 and body["name"] == "renamed" and body["updated_at"] >= conn["updated_at"]
    assert api.get("/v1/connections/renamed")[0] == 200
    status, body, _ = api.delete("/v1/connections/renamed")
    assert status == 200 and body == {"deleted": True, "connection_id": cid}
    assert api.get(f"/v1/connections/{cid}")[0] == 404
    status, body, _ = api.delete(f"/v1/connections/{cid}")
    assert status == 404 and body["error"]["code"] == "connection_not_found"


def test_names_are_unique_per_namespace(admin, api):
    create_connection(api, "dup", "collection", {})
    status, body, _ = api.post("/v1/connections", json={"name": "dup", "type": "collection"})
    assert status == 409 and body["error"]["code"] == "connection_exists"
    create_connection(api, "other", "collection", {})
    status, body, _ = api.patch("/v1/connections/other", json={"name": "dup"})
    assert status == 409 and body["error"]["code"] == "connection_exists"
    # the same name in another namespace is fine
    assert admin.post("/v1/namespaces", json={"namespace_name": "second"})[0] == 201
    create_connection(admin.as_(namespace="second"), "dup", "collection", {})


def test_every_problem_is_listed_with_its_path(api, raw_bucket):
    status, body, _ = api.post("/v1/connections", json={"name": "bad name!", "type": "ftp", "extra": 1})
    assert status == 400 and problem_paths(body) == {"name", "type", "extra"}
    status, body, _ = api.post("/v1/connections", json={"type": "mongodb", "config": {
        "uri": "postgres://h/db", "database": "a.b", "collection": "$c", "bogus": True}})
    assert problem_paths(body) == {"name", "config.uri", "config.database", "config.collection",
                                   "config.bogus"}
    status, body, _ = api.post("/v1/connections", json={"name": "m", "type": "mongodb", "config": {
        "uri": "mongodb://h:notaport/db"}})
    assert problem_paths(body) == {"config.uri"}
    status, body, _ = api.post("/v1/connections", json={"name": "w", "type": "webhook", "config": {
        "url": "ftp://files", "batch_size": 5000, "timeout_s": -1, "max_attempts": "many",
        "headers": {"Idempotency-Key": "x", "X-Ok": 5}, "secret": ""}})
    assert problem_paths(body) == {"config.url", "config.batch_size", "config.timeout_s", "config.max_attempts",
                                   "config.headers.Idempotency-Key", "config.headers.X-Ok", "config.secret"}
    status, body, _ = api.post("/v1/connections", json={"name": "b", "type": "bucket", "config": {}})
    assert problem_paths(body) == {"config.bucket_id"}
    status, body, _ = api.post("/v1/connections", json={"name": "b", "type": "bucket",
                                                        "config": {"bucket_id": "ghost"}})
    assert body["error"]["details"] == [{"path": "config.bucket_id",
                                         "message": "bucket 'ghost' does not exist in this namespace"}]
    status, body, _ = api.post("/v1/connections", json={"name": "c", "type": "collection",
                                                        "config": {"collection_id": "ghost"}})
    assert problem_paths(body) == {"config.collection_id"}
    status, body, _ = api.post("/v1/connections", json={"name": "c", "type": "collection", "config": None})
    assert problem_paths(body) == {"config"}
    status, body, _ = api.post("/v1/connections", json=["not", "an", "object"])
    assert status == 400
    status, body, _ = api.call("POST", "/v1/connections", data="{}", headers={"Content-Type": "text/plain"})
    assert status == 415
    # PATCH re-validates the config, refuses a type change, and lists problems together
    create_connection(api, "src", "bucket", {"bucket_id": raw_bucket["bucket_id"]})
    status, body, _ = api.patch("/v1/connections/src", json={"type": "webhook", "name": "no good",
                                                            "config": {"bucket_id": "ghost", "x": 1}})
    assert status == 400 and problem_paths(body) == {"type", "name", "config.bucket_id", "config.x"}
    assert api.patch("/v1/connections/src", json={"type": "bucket"})[0] == 200  # unchanged type is fine
    assert api.patch("/v1/connections/ghost", json={"name": "x"})[0] == 404


def test_secrets_are_masked_everywhere_and_patch_round_trips(app, api, mongo_host):
    uri = f"mongodb://etl:hunter22-pw@{mongo_host}/shop?authSource=admin"
    db = create_connection(api, "crm-db", "mongodb", {"uri": uri, "collection": "people"})
    assert db["config"] == {"uri": f"mongodb://etl:****@{mongo_host}/shop?authSource=admin",
                            "database": "shop", "collection": "people"}
    assert db["roles"] == ["source", "destination"]
    hook = create_connection(api, "crm-hook", "webhook", {
        "url": "https://hooks.example/in?token=tok-12345", "secret": "whsec_abcdef",
        "headers": {"Authorization": "Bearer bear-6789", "X-Api-Key": "key-24680", "X-Team": "crm"}})
    assert hook["config"] == {"url": "https://hooks.example/in?token=****", "secret": "****",
                              "has_secret": True, "batch_size": 100, "timeout_s": 10, "max_attempts": 5,
                              "headers": {"Authorization": "****", "X-Api-Key": "****", "X-Team": "crm"}}
    secrets_ = ("hunter22-pw", "tok-12345", "whsec_abcdef", "bear-6789", "key-24680")
    for path in ("/v1/connections", "/v1/connections/crm-db", "/v1/connections/crm-hook"):
        _, _, resp = api.get(path)
        assert not any(s in resp.get_data(as_text=True) for s in secrets_), path

    # GET → edit → PATCH: the masked values keep the stored secrets
    shown = api.get("/v1/connections/crm-hook")[1]["config"]
    status, body, _ = api.patch("/v1/connections/crm-hook", json={"config": {**shown, "batch_size": 10}})
    assert status == 200, body
    assert not any(s in str(raw_row(app, c["connection_id"])) for c in (db, hook) for s in secrets_)
    raw = stored(app, hook["connection_id"])["config"]
    assert raw["secret"] == "whsec_abcdef" and raw["url"].endswith("token=tok-12345")
    assert raw["headers"] == {"Authorization": "Bearer bear-6789", "X-Api-Key": "key-24680", "X-Team": "crm"}
    assert raw["batch_size"] == 10
    shown = api.get("/v1/connections/crm-db")[1]["config"]
    status, body, _ = api.patch("/v1/connections/crm-db", json={"config": {**shown, "collection": "leads"}})
    assert status == 200 and body["config"]["collection"] == "leads"
    assert stored(app, db["connection_id"])["config"]["uri"] == uri
    # a merge patch: untouched keys stay, null removes an optional one
    status, body, _ = api.patch("/v1/connections/crm-hook", json={"config": {"secret": None}})
    assert status == 200 and body["config"]["has_secret"] is False and body["config"]["secret"] is None
    assert stored(app, hook["connection_id"])["config"]["headers"]["X-Api-Key"] == "key-24680"
    # a masked secret may not travel to a new place
    status, body, _ = api.patch("/v1/connections/crm-db", json={"config": {
        "uri": "mongodb://etl:****@elsewhere.example/shop"}})
    assert status == 400 and problem_paths(body) == {"config.uri"}
    status, body, _ = api.patch("/v1/connections/crm-hook", json={"config": {
        "url": "https://attacker.example/in", "headers": {"Authorization": "****"}}})
    assert status == 400 and problem_paths(body) == {"config.headers.Authorization"}
    status, body, _ = api.patch("/v1/connections/crm-hook", json={"config": {"secret": "****"}})
    assert status == 400 and problem_paths(body) == {"config.secret"}  # none is stored any more
    assert stored(app, db["connection_id"])["config"]["uri"] == uri
    # and an error message never echoes a secret either
    status, body, resp = api.post("/v1/connections/crm-db/test")
    assert status == 200 and body["ok"] is False and "hunter22-pw" not in resp.get_data(as_text=True)


def test_connections_of_another_namespace_are_404(admin, api):
    conn = create_connection(api, "mine", "collection", {})
    assert admin.post("/v1/namespaces", json={"namespace_name": "theirs"})[0] == 201
    other = admin.as_(namespace="theirs")
    cid = conn["connection_id"]
    for ref in (cid, "mine"):
        assert other.get(f"/v1/connections/{ref}")[0] == 404
        assert other.patch(f"/v1/connections/{ref}", json={"name": "x"})[0] == 404
        assert other.post(f"/v1/connections/{ref}/test")[0] == 404
        assert other.delete(f"/v1/connections/{ref}")[0] == 404
    assert other.get("/v1/connections")[1]["pagination"]["total"] == 0
    assert api.get(f"/v1/connections/{cid}")[0] == 200


def test_delete_is_refused_while_a_pipeline_uses_the_connection(app, api, monkeypatch):
    conn = create_connection(api, "busy", "collection", {})

    class Pipelines:
        def names_using_connection(self, namespace_id: str, connection_id: str) -> list[str]:
            return ["nightly-sync"] if connection_id == conn["connection_id"] else []

    monkeypatch.setattr(app.extensions["sluice.stores"], "pipelines", Pipelines(), raising=False)
    status, body, _ = api.delete("/v1/connections/busy")
    assert status == 409 and body["error"]["code"] == "connection_in_use"
    assert body["error"]["details"] == [{"path": "pipelines", "message": "nightly-sync"}]
    idle = create_connection(api, "idle", "collection", {})
    assert api.delete(f"/v1/connections/{idle['connection_id']}")[0] == 200


def test_probe_bucket_and_collection(api, raw_bucket):
    create_connection(api, "src", "bucket", {"bucket_id": "raw"})
    status, body, _ = api.post("/v1/connections/src/test")
    assert status == 200 and body["ok"] is True and isinstance(body["latency_ms"], float)
    assert api.delete("/v1/buckets/raw")[0] == 200
    assert api.post("/v1/connections/src/test")[1] == {
        "ok": False, "error": f"bucket '{raw_bucket['bucket_id']}' does not exist"}
    create_connection(api, "any-collection", "collection", {})
    assert api.post("/v1/connections/any-collection/test")[1]["ok"] is True


def test_probe_mongodb_reachable_and_unreachable(api, services):
    create_connection(api, "local", "mongodb", {"uri": services.mongo_url, "database": "probe_db", "collection": "c"})
    status, body, _ = api.post("/v1/connections/local/test")
    assert status == 200 and body["ok"] is True, body
    create_connection(api, "local-db", "mongodb", {"uri": services.mongo_url, "database": "probe_db"})
    assert api.post("/v1/connections/local-db/test")[1]["ok"] is True
    port = free_port()  # nothing listens there
    create_connection(api, "gone", "mongodb", {"uri": f"mongodb://127.0.0.1:{port}/?directConnection=true",
                                    "database": "x"})
    status, body, _ = api.post("/v1/connections/gone/test")
    assert status == 200 and body["ok"] is False and "ServerSelectionTimeoutError" in body["error"]


def test_probe_webhook_rule(api):
    with HookServer([200, 404, 401, 403, 500]) as hook:
        create_connection(api, "hook", "webhook", {"url": hook.url, "secret": "whsec_probe",
                                        "headers": {"Authorization": "Bearer x"}})
        results = [api.post("/v1/connections/hook/test")[1] for _ in range(5)]
    assert [r["ok"] for r in results] == [True, True, False, False, False]
    assert results[2]["error"].startswith("HTTP 401") and results[4]["error"].startswith("HTTP 500")
    first = hook.requests[0]
    assert first["method"] == "POST" and json.loads(first["body"]) == {"type": "sluice.connection.test"}
    assert verify("whsec_probe", first["body"], first["headers"]["X-Sluice-Signature"])
    assert first["headers"]["Authorization"] == "Bearer x"
    assert first["headers"]["Idempotency-Key"].startswith("test:")
    # nobody listening any more
    status, body, _ = api.post("/v1/connections/hook/test")
    assert status == 200 and body["ok"] is False and "ConnectionError" in body["error"]


def test_openapi_documents_connections(api):
    status, spec, _ = api.get("/v1/openapi.json")
    assert status == 200
    assert {"/v1/connections", "/v1/connections/{connection}", "/v1/connections/{connection}/test"} \
        <= set(spec["paths"])
    assert "ConnectionCreate" in spec["components"]["schemas"]
