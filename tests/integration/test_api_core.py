"""Envelope, request ids, content negotiation, limits, OpenAPI, health — on real services."""
from __future__ import annotations


def assert_envelope(body: dict, status: int, code: str | None = None) -> dict:
    err = body["error"]
    assert set(err) == {"code", "message", "status", "details"}
    assert err["status"] == status
    if code:
        assert err["code"] == code, err
    return err


def test_healthz_and_readyz_are_public(admin, worker_env):
    resp = admin.client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}
    resp = admin.client.get("/readyz")  # no worker is running
    assert resp.status_code == 503
    err = resp.get_json()["error"]
    assert [d["path"] for d in err["details"]] == ["workers"]


def test_request_id_is_generated_and_echoed(admin):
    resp = admin.client.get("/healthz")
    assert resp.headers["Request-Id"].startswith("req_")
    resp = admin.client.get("/healthz", headers={"Request-Id": "abc-123"})
    assert resp.headers["Request-Id"] == "abc-123"
    # also on errors
    resp = admin.client.get("/v1/namespaces", headers={"Request-Id": "err-1"})
    assert resp.status_code == 401 and resp.headers["Request-Id"] == "err-1"


def test_missing_and_bad_keys(admin):
    resp = admin.client.get("/v1/namespaces")
    assert_envelope(resp.get_json(), 401, "missing_api_key")
    resp = admin.client.get("/v1/namespaces", headers={"Authorization": "Bearer sk_nope"})
    assert_envelope(resp.get_json(), 401, "invalid_api_key")
    resp = admin.client.get("/v1/namespaces", headers={"Authorization": "Basic abc"})
    assert resp.status_code == 401


def test_unknown_route_and_method(admin):
    status, body, _ = admin.get("/v1/nothing-here")
    assert status == 404
    assert_envelope(body, 404, "not_found")
    status, body, _ = admin.call("PUT", "/v1/namespaces")
    assert status == 405
    assert_envelope(body, 405, "method_not_allowed")


def test_malformed_json_wrong_type_and_empty_body(admin):
    h = admin.headers({"Content-Type": "application/json"})
    resp = admin.client.post("/v1/namespaces", data="{not json", headers=h)
    assert resp.status_code == 400
    assert_envelope(resp.get_json(), 400, "malformed_json")
    resp = admin.client.post("/v1/namespaces", data="namespace_name=x",
                             headers=admin.headers({"Content-Type": "application/x-www-form-urlencoded"}))
    assert resp.status_code == 415
    assert_envelope(resp.get_json(), 415, "unsupported_media_type")
    resp = admin.client.post("/v1/namespaces", headers=admin.headers())
    assert resp.status_code == 400
    assert_envelope(resp.get_json(), 400, "body_required")
    resp = admin.client.post("/v1/namespaces", data="[1, 2]", headers=h)
    assert resp.status_code == 400
    assert_envelope(resp.get_json(), 400, "validation_error")


def test_oversized_body_is_413(app, admin):
    limit = app.config["SLUICE_SETTINGS"].max_body_bytes
    big = '{"namespace_name": "' + "x" * (limit + 10) + '"}'
    resp = admin.client.post("/v1/namespaces", data=big,
                             headers=admin.headers({"Content-Type": "application/json"}))
    assert resp.status_code == 413
    assert_envelope(resp.get_json(), 413)


def test_every_invalid_field_is_listed_with_its_path(admin):
    status, body, _ = admin.post("/v1/namespaces", json={"namespace_name": "", "bogus": 1,
                                                          "metadata": "not-a-dict"})
    assert status == 400
    err = assert_envelope(body, 400, "validation_error")
    paths = {d["path"]: d["message"] for d in err["details"]}
    assert set(paths) == {"namespace_name", "bogus", "metadata"}
    assert paths["bogus"] == "unknown field"


def test_openapi_document(admin):
    resp = admin.client.get("/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/buckets/{bucket}/objects" in doc["paths"]
    create = doc["paths"]["/v1/buckets"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "bucket_name" in schema["required"]


def test_mongo_unreachable_is_503(services):
    from api.app import create_app
    from shared.settings import Settings
    from cli.localservices import free_port

    settings = Settings.from_env({"MONGO_URL": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300",
                                  "REDIS_URL": services.redis_url, "SLUICE_ADMIN_KEY": "adm"})
    application = create_app(settings, ensure_indexes=False)
    from shared.stores import Stores

    application.extensions["sluice.stores"].mongo.close()
    stores = Stores.from_settings(settings, server_selection_timeout_ms=300)
    application.extensions["sluice.stores"] = stores
    client = application.test_client()
    resp = client.get("/v1/namespaces", headers={"Authorization": "Bearer sk_x"})
    assert resp.status_code == 503
    assert_envelope(resp.get_json(), 503, "service_unavailable")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["details"][0]["path"] == "mongo"
    stores.mongo.close()
