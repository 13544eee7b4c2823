"""Streaming pipelines (seed 004) through the API, without workers: projects, validation with
every problem listed by path, paging, the 404/409 rules and START/STOP bookkeeping."""
from __future__ import annotations

import uuid

import pytest
from tests.support.pipelines import connection
from tests.support.streaming import create_pipeline


def paths(body: dict) -> set[str]:
    return {d["path"] for d in body["error"]["details"]}


@pytest.fixture
def project(api, services):
    """The namespace as a project, with one connection of each kind."""
    assert api.post("/v1/buckets", json={"bucket_name": "orders"})[0] == 201
    assert api.post("/v1/collections", json={"collection_name": "mirror",
                                             "source": {"type": "bucket", "bucket_id": "orders"}})[0] == 201
    ns = api.get("/v1/namespaces/default-ns")[1]
    return {"id": ns["namespace_id"], "base": f"/v1/projects/{ns['namespace_id']}/streaming-pipelines",
            "bucket": connection(api, "orders-src", "bucket", {"bucket_id": "orders"}),
            "collection": connection(api, "mirror-dst", "collection", {"collection_id": "mirror"}),
            "mongo": connection(api, "ext", "mongodb", {"uri": services.mongo_url, "database": "ext_db",
                                                        "collection": "events"}),
            "hook": connection(api, "hook", "webhook", {"url": "http://127.0.0.1:9/hook"})}


def definition(project: dict, **changes) -> dict:
    body = {"name": "orders-to-mirror",
            "streamingSource": {"connection": {"connectionId": project["bucket"]}},
            "streamingTarget": {"connection": {"connectionId": project["collection"]}}}
    body.update(changes)
    return body


def test_projects_are_the_namespaces_the_key_may_use(admin, api):
    assert admin.post("/v1/namespaces", json={"namespace_name": "other"})[0] == 201
    status, body, _ = admin.get("/v1/projects")
    assert status == 200 and {p["name"] for p in body["results"]} >= {"default-ns", "other"}
    assert body["page"] == 0 and body["size"] == 20 and body["total"] == len(body["results"])
    _, key, _ = admin.post("/v1/api-keys", json={"name": "scoped", "namespaces": ["other"]})
    scoped = admin.as_(key=key["secret"])
    status, body, _ = scoped.get("/v1/projects")
    assert status == 200 and [p["name"] for p in body["results"]] == ["other"] and body["total"] == 1
    assert set(body["results"][0]) == {"id", "name"} and body["results"][0]["id"].startswith("ns_")
    status, body, _ = admin.get("/v1/projects?page=1&size=1")
    assert status == 200 and len(body["results"]) == 1 and body["page"] == 1 and body["size"] == 1
    status, body, _ = admin.get("/v1/projects?size=0")
    assert status == 400 and paths(body) == {"size"}
    # a project the key is not scoped to answers like an unknown one: the seed's 404
    status, body, _ = scoped.get("/v1/projects/default-ns/streaming-pipelines")
    assert status == 404 and body["error"]["message"] == "workspace does not exist"
    status, body, _ = admin.get("/v1/projects/nope/environments")
    assert status == 404 and body["error"]["message"] == "workspace does not exist"


def test_create_get_list_and_defaults(api, project):
    status, body, _ = api.post(project["base"], json=definition(project))
    assert status == 201, body
    assert uuid.UUID(body["streamingPipelineId"]).version == 4
    assert body["agentId"] == "streaming" and body["status"] == "NOT_RUNNING"
    assert body["streamingSource"] == {"connection": {"connectionId": project["bucket"]}, "collections": None,
                                       "snapshot": True}
    assert body["advancedProperties"] == {"maxBatchSize": 500, "maxBatchWaitMs": 1000}
    assert api.get(f"{project['base']}/{body['streamingPipelineId']}")[1] == body
    # a project may be named by its name too; connections by name are stored as ids
    status, named, _ = api.post("/v1/projects/default-ns/streaming-pipelines", json=definition(
        project, name="by-name", streamingSource={"connection": {"connectionId": "ext"},
                                                  "collections": ["a", "b"], "snapshot": False},
        streamingTarget={"connection": {"connectionId": "hook"}},
        transformation={"code": "function transform(r) { return r; }"},
        filters={"field": "n", "operator": "gt", "value": 1},
        advancedProperties={"maxBatchSize": 10000, "maxBatchWaitMs": 10}))
    assert status == 201, named
    assert named["streamingSource"] == {"connection": {"connectionId": project["mongo"]},
                                        "collections": ["a", "b"], "snapshot": False}
    api.post(project["base"], json=definition(project, name="third"))
    status, page, _ = api.get(f"{project['base']}?page=1&size=2")
    assert status == 200 and (page["page"], page["size"], page["total"]) == (1, 2, 3)
    assert [p["name"] for p in page["results"]] == ["third"]
    status, page, _ = api.get(f"{project['base']}?page=-1&size=5000")
    assert status == 400 and paths(page) == {"page", "size"}


def test_every_problem_is_listed_with_its_path(api, project):
    # the seed's example: required connection fields missing
    status, body, _ = api.post(project["base"], json={
        "name": "x", "streamingSource": {"connection": {}}, "streamingTarget": {}})
    assert status == 400, body
    assert paths(body) == {"streamingSource.connection.connectionId", "streamingTarget.connection"}
    # schema problems and semantic problems together, in one answer
    status, body, _ = api.post(project["base"], json={
        "agentId": "gpu-pool", "surprise": 1,
        "streamingSource": {"connection": {"connectionId": project["hook"]}, "collections": ["x"]},
        "streamingTarget": {"connection": {"connectionId": "ghost"}},
        "filters": {"field": "n", "operator": "near", "value": 1},
        "transformation": {"code": "function transform(r) { return r"},
        "advancedProperties": {"maxBatchSize": 0, "maxBatchWaitMs": 5}})
    assert status == 400
    assert paths(body) >= {"name", "agentId", "surprise", "streamingSource.connection.connectionId",
                           "streamingTarget.connection.connectionId", "advancedProperties.maxBatchSize",
                           "advancedProperties.maxBatchWaitMs", "transformation.code"}
    assert any(p.startswith("filters") for p in paths(body))
    assert body["error"]["code"] == "validation_error"
    messages = {d["path"]: d["message"] for d in body["error"]["details"]}
    assert "cannot be a streaming source" in messages["streamingSource.connection.connectionId"]
    assert "does not exist" in messages["streamingTarget.connection.connectionId"]


@pytest.mark.parametrize("change,path", [
    ({"streamingTarget": {"connection": {"connectionId": "orders-src"}}}, "streamingTarget.connection.connectionId"),
    ({"streamingSource": {"connection": {"connectionId": "orders-src"}, "collections": ["a"]}},
     "streamingSource.collections"),
    ({"streamingTarget": {"connection": {"connectionId": "hook"}, "collection": "c"}}, "streamingTarget.collection"),
    ({"streamingTarget": {"connection": {"connectionId": "mirror-dst"}, "collection": "ghost"}},
     "streamingTarget.collection"),
    ({"streamingSource": {"connection": {"connectionId": "ext"}},
      "streamingTarget": {"connection": {"connectionId": "ext"}}}, "streamingTarget.collection"),  # a loop
    ({"streamingSource": {"connection": {"connectionId": "ext"}, "collections": ["$bad"]}},
     "streamingSource.collections.0"),
    ({"advancedProperties": {"maxBatchSize": 10001}}, "advancedProperties.maxBatchSize"),
    ({"advancedProperties": {"maxBatchWaitMs": 60001}}, "advancedProperties.maxBatchWaitMs"),
    ({"transformation": {"code": "const x = 1;"}}, "transformation.code"),     # no entry point
    ({"transformation": {}}, "transformation.code"),
    ({"name": ""}, "name"),
])
def test_single_problems(api, project, change, path):
    status, body, _ = api.post(project["base"], json=definition(project, **change))
    assert status == 400 and paths(body) == {path}, body


def test_a_mongodb_source_needs_a_collection(api, project, services):
    bare = connection(api, "bare", "mongodb", {"uri": services.mongo_url, "database": "ext_db"})
    status, body, _ = api.post(project["base"], json=definition(
        project, streamingSource={"connection": {"connectionId": bare}}))
    assert status == 400 and paths(body) == {"streamingSource.collections"}


def test_not_found_rules(api, project, admin):
    status, body, _ = api.get(f"{project['base']}/{uuid.uuid4()}")
    assert status == 404 and body["error"]["message"] == "streaming pipeline does not exist"
    for method, suffix, payload in (("get", "/status", None), ("post", "/commands", {"command": "START"}),
                                    ("put", "", definition(project)), ("delete", "", None)):
        status, body, _ = getattr(api, method)(f"{project['base']}/{uuid.uuid4()}{suffix}",
                                               **({"json": payload} if payload else {}))
        assert status == 404 and body["error"]["message"] == "streaming pipeline does not exist", (method, suffix)
    for path in ("/v1/projects/ghost/streaming-pipelines", "/v1/projects/ghost/environments",
                 f"/v1/projects/ghost/streaming-pipelines/{uuid.uuid4()}/status"):
        status, body, _ = admin.get(path)
        assert status == 404 and body["error"]["message"] == "workspace does not exist", path
    # a pipeline of another project is not found from this one
    _, p, _ = api.post(project["base"], json=definition(project))
    admin.post("/v1/namespaces", json={"namespace_name": "elsewhere"})
    status, body, _ = admin.get(f"/v1/projects/elsewhere/streaming-pipelines/{p['streamingPipelineId']}")
    assert status == 404 and body["error"]["message"] == "streaming pipeline does not exist"


def test_commands_and_the_409_rules(api, project):
    _, p, _ = api.post(project["base"], json=definition(project))
    url = f"{project['base']}/{p['streamingPipelineId']}"
    status, body, _ = api.post(f"{url}/commands", json={"command": "PAUSE"})
    assert status == 400 and paths(body) == {"command"}
    status, body, _ = api.post(f"{url}/commands", json={})
    assert status == 400 and paths(body) == {"command"}
    status, body, _ = api.post(f"{url}/commands", json={"command": "STOP", "snapshot": True})
    assert status == 400 and paths(body) == {"snapshot"}
    # STOP of a stopped pipeline: an idempotent no-op
    status, body, _ = api.post(f"{url}/commands", json={"command": "STOP"})
    assert status == 200 and body == {"streamingPipelineId": p["streamingPipelineId"], "command": "STOP",
                                      "status": "NOT_RUNNING"}
    # START (no worker here: it stays STARTING, its first step waiting in the queue)
    status, body, _ = api.post(f"{url}/commands", json={"command": "START"})
    assert status == 200 and body["status"] == "STARTING" and body["command"] == "START"
    status, body, _ = api.post(f"{url}/commands", json={"command": "START"})
    assert status == 409 and "already running" in body["error"]["message"]
    status, body, _ = api.put(url, json=definition(project, name="renamed"))
    assert status == 409
    status, body, _ = api.delete(url)
    assert status == 409
    status, st, _ = api.get(f"{url}/status")
    assert status == 200 and st["status"] == "STARTING" and st["mode"] == "snapshot"
    assert st["counters"] == {"snapshotRows": 0, "changesCaptured": 0, "applied": 0, "failed": 0}
    assert [h["status"] for h in st["history"]] == ["STARTING"]
    # STOP with no step running (no live lease) finishes at once
    status, body, _ = api.post(f"{url}/commands", json={"command": "STOP"})
    assert status == 200 and body["status"] == "NOT_RUNNING"
    status, st, _ = api.get(f"{url}/status")
    assert [h["status"] for h in st["history"]] == ["STARTING", "STOPPING", "NOT_RUNNING"]
    assert st["lastStateChange"] is not None and st["error"] is None
    status, body, _ = api.put(url, json=definition(project, name="renamed"))
    assert status == 200 and body["name"] == "renamed"
    status, body, resp = api.delete(url)
    assert status == 204 and resp.data == b""
    assert api.get(url)[0] == 404


def test_put_validates_like_post(api, project):
    _, p, _ = api.post(project["base"], json=definition(project))
    status, body, _ = api.put(f"{project['base']}/{p['streamingPipelineId']}", json={"name": "x"})
    assert status == 400 and paths(body) == {"streamingSource", "streamingTarget"}


def test_a_connection_used_by_a_streaming_pipeline_cannot_be_deleted(api, services):
    src = connection(api, "cdc-src", "mongodb", {"uri": services.mongo_url, "database": "sluice_del_src",
                                                 "collection": "things"})
    dst = connection(api, "cdc-dst", "mongodb", {"uri": services.mongo_url, "database": "sluice_del_dst",
                                                 "collection": "things"})
    create_pipeline(api, {"name": "uses-both", "streamingSource": {"connection": {"connectionId": src}},
                          "streamingTarget": {"connection": {"connectionId": dst}}})
    status, body, _ = api.delete(f"/v1/connections/{src}")
    assert status == 409 and body["error"]["details"] == [{"path": "streaming_pipelines", "message": "uses-both"}]
