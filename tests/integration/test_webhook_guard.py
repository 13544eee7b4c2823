"""Where webhooks may connect, with real sockets: validation answers 400 at the field path for
literal IPs, sends are checked after DNS resolution (a refused send fails at once, never
retried), the connection goes to the very address that was checked (DNS rebinding), and both
settings of SLUICE_WEBHOOK_ALLOW_PRIVATE behave as documented."""
from __future__ import annotations

import socket

import pytest

from shared.connectors import destination_for
from tests.support.api import Api
from tests.support.http import HookServer
from tests.support.pipelines import CONTEXT, webhook_connection


@pytest.fixture
def strict_settings(settings):
    return settings.with_(webhook_allow_private=False)


@pytest.fixture
def strict_api(strict_settings, mongo_client):
    """An API whose settings refuse loopback and private networks."""
    from api.app import create_app

    application = create_app(strict_settings)
    client = Api(application.test_client())
    assert client.post("/v1/namespaces", json={"namespace_name": "default-ns"})[0] == 201
    yield client.as_(namespace="default-ns")
    application.extensions["sluice.stores"].mongo.close()
    mongo_client.drop_database(strict_settings.mongo_db)


@pytest.fixture
def stores(settings, mongo_client):
    from shared.stores import Stores

    s = Stores.from_settings(settings)
    yield s
    s.mongo.close()
    mongo_client.drop_database(settings.mongo_db)


def details(body: dict) -> list[dict]:
    assert body["error"]["code"] == "validation_error", body
    return body["error"]["details"]


def test_default_mode_allows_private_but_never_metadata(api):
    with HookServer() as hook:
        status, body, _ = api.post("/v1/connections", json={"name": "local", "type": "webhook",
                                                            "config": {"url": hook.url}})
        assert status == 201, body
        assert api.post("/v1/connections/local/test")[1]["ok"] is True
    status, body, _ = api.post("/v1/connections", json={"name": "meta", "type": "webhook",
                                                        "config": {"url": "http://169.254.169.254/latest/"}})
    assert status == 400 and [d["path"] for d in details(body)] == ["config.url"]
    assert details(body)[0]["message"].startswith("refused: 169.254.169.254 is a link-local address")


def test_strict_mode_refuses_literal_private_ips_at_validation(strict_api):
    with HookServer() as hook:
        for url in (hook.url, hook.url.replace("127.0.0.1", "127.1"), "http://10.0.0.5/in", "http://[::1]:9/"):
            status, body, _ = strict_api.post("/v1/connections", json={"name": "h", "type": "webhook",
                                                                       "config": {"url": url}})
            assert status == 400 and [d["path"] for d in details(body)] == ["config.url"], url
            assert "SLUICE_WEBHOOK_ALLOW_PRIVATE=true" in details(body)[0]["message"]
        status, body, _ = strict_api.post("/v1/webhooks", json={"url": hook.url, "events": ["batch.completed"]})
        assert status == 400 and [d["path"] for d in details(body)] == ["url"]
        # a PATCH that moves an existing connection onto a private address is refused the same way
        assert strict_api.post("/v1/connections", json={"name": "pub", "type": "webhook",
                                                        "config": {"url": "https://hooks.example/in"}})[0] == 201
        status, body, _ = strict_api.patch("/v1/connections/pub", json={"config": {"url": hook.url}})
        assert status == 400 and [d["path"] for d in details(body)] == ["config.url"]
    assert hook.requests == []


def test_strict_mode_refuses_a_name_resolving_to_loopback_when_sending(strict_api):
    with HookServer() as hook:
        url = hook.url.replace("127.0.0.1", "localhost")
        status, body, _ = strict_api.post("/v1/connections", json={"name": "h", "type": "webhook",
                                                                   "config": {"url": url, "secret": "whsec_x"}})
        assert status == 201, body  # a name passes validation: it is judged after resolution
        status, body, _ = strict_api.post("/v1/connections/h/test")
    assert status == 200 and body["ok"] is False
    assert body["error"].startswith("refused: localhost resolves to 127.0.0.1, which is a loopback address")
    assert hook.requests == []


def test_a_refused_send_fails_the_batch_at_once_without_retries(stores, strict_settings, settings):
    with HookServer() as hook:
        for url in (hook.url.replace("127.0.0.1", "localhost"), hook.url):  # a name, and a literal stored earlier
            with destination_for(stores, webhook_connection(url, max_attempts=5), {}, strict_settings) as dest:
                failed = dest.write([("k1", {"a": 1}), ("k2", {"a": 2})], CONTEXT)
            assert set(failed) == {"k1", "k2"} and failed["k1"].startswith("refused: "), failed
            assert "loopback" in failed["k1"]
        assert hook.requests == []  # nothing was sent, nothing retried
        # the same connection with private networks allowed is delivered
        with destination_for(stores, webhook_connection(hook.url.replace("127.0.0.1", "localhost")), {},
                             settings) as dest:
            assert dest.write([("k1", {"a": 1})], CONTEXT) == {}
        assert len(hook.requests) == 1


def test_dns_rebinding_cannot_swap_the_checked_address(stores, settings, monkeypatch):
    """`rebind.test` answers 127.0.0.1 once, then the metadata address. The check and the
    connection must use one answer: the delivery reaches the local receiver, and the next
    connection (a new lookup) is refused — it never reaches 169.254.169.254."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with HookServer() as hook:
        url = hook.url.replace("127.0.0.1", "rebind.test")
        with destination_for(stores, webhook_connection(url), {}, settings) as dest:
            assert dest.write([("k1", {"a": 1})], CONTEXT) == {}
        assert lookups == ["rebind.test"]  # resolved once: checked and connected to the same address
        assert hook.requests[0]["headers"]["Host"] == f"rebind.test:{hook.httpd.server_address[1]}"
        with destination_for(stores, webhook_connection(url), {}, settings) as dest:
            failed = dest.write([("k2", {"a": 2})], CONTEXT)
        assert failed["k2"].startswith("refused: rebind.test resolves to 169.254.169.254")
        assert len(hook.requests) == 1
