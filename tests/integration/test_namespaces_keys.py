"""Namespaces, API keys, scoping, revocation and cross-namespace isolation."""
from __future__ import annotations


def make_ns(admin, name):
    status, body, _ = admin.post("/v1/namespaces", json={"namespace_name": name})
    assert status == 201, body
    assert body["namespace_id"].startswith("ns_")
    return body


def make_key(admin, namespaces, name="k"):
    status, body, _ = admin.post("/v1/api-keys", json={"name": name, "namespaces": namespaces})
    assert status == 201, body
    assert body["secret"].startswith("sk_") and body["key_id"].startswith("key_")
    return body


def test_namespace_crud_and_duplicate(admin):
    ns = make_ns(admin, "prod")
    assert admin.get(f"/v1/namespaces/{ns['namespace_id']}")[1]["namespace_name"] == "prod"
    assert admin.get("/v1/namespaces/prod")[1]["namespace_id"] == ns["namespace_id"]
    status, body, _ = admin.post("/v1/namespaces", json={"namespace_name": "prod"})
    assert status == 409 and body["error"]["code"] == "namespace_exists"
    status, body, _ = admin.get("/v1/namespaces/nope")
    assert status == 404 and body["error"]["message"] == "workspace does not exist"
    status, body, _ = admin.get("/v1/namespaces")
    assert body["pagination"]["total"] == 1 and body["results"][0]["namespace_name"] == "prod"


def test_namespace_pagination(admin):
    for i in range(5):
        make_ns(admin, f"ns{i}")
    seen, cursor = [], None
    while True:
        path = "/v1/namespaces?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = admin.get(path)
        assert status == 200
        assert body["pagination"]["limit"] == 2 and body["pagination"]["total"] == 5
        seen += [r["namespace_name"] for r in body["results"]]
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"ns{i}" for i in range(5)]
    assert admin.get("/v1/namespaces?limit=0")[0] == 400
    assert admin.get("/v1/namespaces?limit=1001")[0] == 400
    status, body, _ = admin.get("/v1/namespaces?cursor=garbage!")
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


def test_delete_refuses_non_empty_namespace_unless_forced(admin):
    make_ns(admin, "a")
    api = admin.as_(namespace="a")
    assert api.post("/v1/buckets", json={"bucket_name": "b"})[0] == 201
    status, body, _ = admin.delete("/v1/namespaces/a")
    assert status == 409 and body["error"]["code"] == "namespace_not_empty"
    status, body, _ = admin.delete("/v1/namespaces/a?force=true")
    assert status == 200 and body["deleted"] is True
    assert admin.get("/v1/namespaces/a")[0] == 404


def test_scoped_key_cannot_manage_or_reach_other_namespaces(admin):
    a, b = make_ns(admin, "tenant-a"), make_ns(admin, "tenant-b")
    key = make_key(admin, ["tenant-a"])
    user = admin.as_(key=key["secret"], namespace="tenant-a")
    # sees only its own namespace
    status, body, _ = user.get("/v1/namespaces")
    assert [r["namespace_name"] for r in body["results"]] == ["tenant-a"]
    assert user.get(f"/v1/namespaces/{b['namespace_id']}")[0] == 404
    # cannot administer
    status, body, _ = user.post("/v1/namespaces", json={"namespace_name": "x"})
    assert status == 403 and body["error"]["code"] == "admin_required"
    assert user.post("/v1/api-keys", json={"name": "x", "namespaces": "*"})[0] == 403
    # used on a namespace it is not scoped to: exactly what an unknown namespace answers
    status, body, _ = user.as_(namespace="tenant-b").post("/v1/buckets", json={"bucket_name": "b"})
    _, unknown, _ = user.as_(namespace="no-such-tenant").post("/v1/buckets", json={"bucket_name": "b"})
    assert status == 404
    assert body == {**unknown, "error": {**unknown["error"], "details": [
        {"path": "namespace", "message": "no namespace 'tenant-b'"}]}}
    assert body["error"]["message"] == "workspace does not exist"
    # by id too, and on the streaming routes that name the namespace in the path
    assert user.as_(namespace=b["namespace_id"]).post("/v1/buckets", json={"bucket_name": "b"})[0] == 404
    status, body, _ = user.get("/v1/projects/tenant-b/streaming-pipelines")
    _, unknown, _ = user.get("/v1/projects/tenant-zz/streaming-pipelines")
    assert status == 404 and body["error"]["code"] == unknown["error"]["code"] == "namespace_not_found"
    # may work in its own
    assert user.post("/v1/buckets", json={"bucket_name": "mine"})[0] == 201
    assert a["namespace_id"]


def test_namespace_header_rules(admin):
    make_ns(admin, "one")
    status, body, _ = admin.post("/v1/buckets", json={"bucket_name": "b"})
    assert status == 400 and body["error"]["code"] == "namespace_required"
    status, body, _ = admin.as_(namespace="ghost").post("/v1/buckets", json={"bucket_name": "b"})
    assert status == 404 and body["error"]["message"] == "workspace does not exist"
    # query-parameter fallback
    status, body, _ = admin.post("/v1/buckets?namespace=one", json={"bucket_name": "b"})
    assert status == 201, body


def test_cross_namespace_resources_are_invisible(admin):
    make_ns(admin, "na")
    make_ns(admin, "nb")
    a, b = admin.as_(namespace="na"), admin.as_(namespace="nb")
    status, bucket, _ = a.post("/v1/buckets", json={"bucket_name": "secret"})
    bid = bucket["bucket_id"]
    status, obj, _ = a.post(f"/v1/buckets/{bid}/objects", json={"data": {"x": 1}})
    assert status == 201
    for path in (f"/v1/buckets/{bid}", "/v1/buckets/secret",
                 f"/v1/buckets/{bid}/objects/{obj['object_id']}"):
        status, body, _ = b.get(path)
        assert status == 404, path
    assert b.post("/v1/buckets/list", json={})[1]["pagination"]["total"] == 0
    assert b.delete(f"/v1/buckets/{bid}")[0] == 404
    assert a.get(f"/v1/buckets/{bid}")[0] == 200


def test_revocation_takes_effect_at_once(admin):
    make_ns(admin, "r")
    key = make_key(admin, "*")
    user = admin.as_(key=key["secret"], namespace="r")
    assert user.post("/v1/buckets/list", json={})[0] == 200
    status, body, _ = admin.get("/v1/api-keys")
    listed = body["results"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert "secret" not in listed[0] and "secret_hash" not in listed[0]
    assert admin.delete(f"/v1/api-keys/{key['key_id']}")[0] == 200
    status, body, _ = user.post("/v1/buckets/list", json={})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert admin.delete(f"/v1/api-keys/{key['key_id']}")[0] == 404


def test_key_creation_validates_namespaces(admin):
    make_ns(admin, "exists")
    status, body, _ = admin.post("/v1/api-keys", json={"name": "k", "namespaces": ["exists", "ghost"]})
    assert status == 400
    assert body["error"]["details"] == [{"path": "namespaces.1", "message": "no namespace 'ghost'"}]
    status, body, _ = admin.post("/v1/api-keys", json={"name": "k", "namespaces": []})
    assert status == 400 and body["error"]["details"][0]["path"] == "namespaces"
