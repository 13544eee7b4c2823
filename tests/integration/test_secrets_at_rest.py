"""Secrets at rest against a real MongoDB: what the API stores is encrypted, what a worker
reads is the real value, legacy plain-text rows keep working and get encrypted, and a key
rotation or a lost key behaves as documented."""
from __future__ import annotations

import pytest

from shared.connectors import destination_for
from shared.connectors.webhook import verify
from shared.errors import Unprocessable
from shared.secrets.box import generate_key
from shared.stores import Stores
from shared.timeutil import utcnow
from tests.support.http import HookServer
from tests.support.pipelines import CONTEXT, create_connection


SECRETS = ("tok-777", "whsec_rest_1", "bear-rest", "key-rest", "pw-rest-9")


@pytest.fixture
def worker_stores(settings, app):
    """Stores as a worker process builds them: its own box from the same settings."""
    s = Stores.from_settings(settings)
    yield s
    s.mongo.close()


def raw(app, store: str, _id: str) -> dict:
    return app.extensions["sluice.stores"].mongo.db[store].find_one({"_id": _id})


def test_connection_secrets_are_encrypted_in_mongodb_and_real_for_the_worker(app, api, settings,
                                                                              worker_stores):
    with HookServer() as hook:
        conn = create_connection(api, "crm-hook", "webhook", {
            "url": hook.url + "?token=tok-777", "secret": "whsec_rest_1", "batch_size": 10,
            "headers": {"Authorization": "Bearer bear-rest", "X-Api-Key": "key-rest", "X-Team": "crm"}})
        db = create_connection(api, "crm-db", "mongodb", {"uri": "mongodb://etl:pw-rest-9@db.example:27017/shop"})
        stored = raw(app, "connections", conn["connection_id"])["config"]
        stored_db = raw(app, "connections", db["connection_id"])["config"]
        # nothing secret in MongoDB; every secret value recognisably encrypted; the rest readable
        assert not any(s in str(stored) + str(stored_db) for s in SECRETS)
        for value in (stored["url"], stored["secret"], stored["headers"]["Authorization"],
                      stored["headers"]["X-Api-Key"], stored_db["uri"]):
            assert value.startswith("enc:v1:")
        assert stored["headers"]["X-Team"] == "crm" and stored["batch_size"] == 10
        assert stored_db["database"] == "shop"
        # the API still only shows masks
        _, _, resp = api.get("/v1/connections")
        assert not any(s in resp.get_data(as_text=True) for s in SECRETS) and "enc:v1:" not in resp.get_data(as_text=True)
        assert api.get("/v1/connections/crm-db")[1]["config"]["uri"] == "mongodb://etl:****@db.example:27017/shop"

        # the worker path: by_id gives the real values, and the destination signs and sends with them
        opened = worker_stores.connections.by_id(conn["connection_id"])
        assert opened["config"]["secret"] == "whsec_rest_1"
        assert worker_stores.connections.by_id(db["connection_id"])["config"]["uri"].startswith("mongodb://etl:pw-rest-9@")
        with destination_for(worker_stores, opened, {}, settings) as dest:
            assert dest.write([("k1", {"a": 1})], CONTEXT) == {}
    (req,) = hook.requests
    assert req["path"] == "/hook?token=tok-777" and req["headers"]["Authorization"] == "Bearer bear-rest"
    assert verify("whsec_rest_1", req["body"], req["headers"]["X-Sluice-Signature"])


def test_legacy_plain_rows_keep_working_and_are_encrypted_on_the_next_write(app, api, worker_stores):
    ns_id = api.get("/v1/namespaces/default-ns")[1]["namespace_id"]
    now = utcnow()
    legacy = {"url": "https://h.example/in", "secret": "whsec_legacy", "headers": {"Authorization": "Bearer old"},
              "batch_size": 100, "timeout_s": 10, "max_attempts": 5}
    coll = app.extensions["sluice.stores"].connections.coll
    coll.insert_one({"_id": "conn_legacy1", "namespace_id": ns_id, "name": "legacy", "type": "webhook",
                     "config": legacy, "created_at": now, "updated_at": now})
    assert worker_stores.connections.by_id("conn_legacy1")["config"] == legacy  # read as it is
    assert api.get("/v1/connections/legacy")[1]["config"]["secret"] == "****"
    status, body, _ = api.patch("/v1/connections/legacy", json={"config": {"batch_size": 5}})
    assert status == 200, body
    stored = coll.find_one({"_id": "conn_legacy1"})["config"]
    assert stored["secret"].startswith("enc:v1:") and stored["headers"]["Authorization"].startswith("enc:v1:")
    assert worker_stores.connections.by_id("conn_legacy1")["config"] == {**legacy, "batch_size": 5}

    # `sluice reseal` encrypts what was never rewritten, connections and webhooks alike
    coll.insert_one({"_id": "conn_legacy2", "namespace_id": ns_id, "name": "legacy2", "type": "webhook",
                     "config": legacy, "created_at": now, "updated_at": now})
    hooks = app.extensions["sluice.stores"].webhooks.coll
    hooks.insert_one({"_id": "wh_legacy", "namespace_id": ns_id, "url": "https://h.example/e",
                      "secret": "whsec_legacy", "events": ["batch.completed"], "enabled": True, "created_at": now})
    report = worker_stores.reseal_secrets()
    assert report == {"connections": {"resealed": 2, "unreadable": []}, "webhooks": {"resealed": 1, "unreadable": []}}
    assert "whsec_legacy" not in str(list(coll.find())) + str(list(hooks.find()))
    assert worker_stores.webhooks.by_id("wh_legacy")["secret"] == "whsec_legacy"


def test_rotation_then_a_lost_key(app, api, settings):
    conn = create_connection(api, "hook", "webhook", {"url": "https://h.example/in", "secret": "whsec_rotate"})
    new_key = generate_key()
    rotated = Stores.from_settings(settings.with_(secret_keys=(new_key, *settings.secret_keys)))
    only_new = Stores.from_settings(settings.with_(secret_keys=(new_key,)))
    try:
        assert rotated.connections.by_id(conn["connection_id"])["config"]["secret"] == "whsec_rotate"
        with pytest.raises(Unprocessable):  # written under the old key only
            only_new.connections.by_id(conn["connection_id"])
        assert rotated.reseal_secrets()["connections"] == {"resealed": 1, "unreadable": []}
        assert only_new.connections.by_id(conn["connection_id"])["config"]["secret"] == "whsec_rotate"
    finally:
        rotated.mongo.close()
        only_new.mongo.close()
    # the API process still has only the old key: the secret is lost to it, visibly but safely
    status, body, _ = api.get("/v1/connections/hook")
    assert status == 200 and body["config"]["secret"] == "****"
    status, body, _ = api.post("/v1/connections/hook/test")
    assert status == 422 and body["error"]["code"] == "secret_unreadable", body
    status, body, _ = api.patch("/v1/connections/hook", json={"config": {"secret": "****"}})
    assert status == 400 and {d["path"] for d in body["error"]["details"]} == {"config.secret"}
    # sending the real secret again repairs it
    assert api.patch("/v1/connections/hook", json={"config": {"secret": "whsec_again"}})[0] == 200
    stores = app.extensions["sluice.stores"]
    assert stores.connections.by_id(conn["connection_id"])["config"]["secret"] == "whsec_again"


def test_sluice_reseal_command(app, api, settings, services, monkeypatch, capsys):
    from cli.main import main

    create_connection(api, "hook", "webhook", {"url": "https://h.example/in", "secret": "whsec_cli"})
    for name, value in {**services.env(), "SLUICE_DB": settings.mongo_db,
                        "SLUICE_SECRET_KEY": ",".join(settings.secret_keys)}.items():
        monkeypatch.setenv(name, value)
    assert main(["reseal"]) == 0
    assert capsys.readouterr().out.splitlines() == ["connections: 1 re-encrypted", "webhooks: 0 re-encrypted"]
    # with a key that opens nothing, the row is named and the exit code says so
    monkeypatch.setenv("SLUICE_SECRET_KEY", generate_key())
    assert main(["reseal"]) == 1
    assert "no key opens: conn_" in capsys.readouterr().out
