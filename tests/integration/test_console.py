"""The web console's session, CSRF and scoping rules, through Flask's test client against a
real MongoDB (the browser tests in tests/browser/ drive the same pages in chromium)."""
from __future__ import annotations

import re

import pytest


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, key: str, next_path: str = "/ui/"):
    page = client.get("/ui/login")
    return client.post("/ui/login", data={"api_key": key, "csrf_token": form_token(page.get_data(as_text=True)),
                                          "next": next_path})


@pytest.fixture
def two_namespaces(admin):
    for name in ("team-a", "team-b"):
        assert admin.post("/v1/namespaces", json={"namespace_name": name})[0] == 201
    _, key_a, _ = admin.post("/v1/api-keys", json={"name": "a", "namespaces": ["team-a"]})
    assert admin.as_(namespace="team-b").post("/v1/buckets", json={"bucket_name": "secret-b"})[0] == 201
    assert admin.as_(namespace="team-a").post("/v1/buckets", json={"bucket_name": "mine"})[0] == 201
    return key_a


def test_sign_in_sets_a_strict_httponly_session_cookie_and_never_the_key(app, two_namespaces):
    client = app.test_client()
    assert client.get("/ui/").status_code == 302   # to the sign-in page
    resp = sign_in(client, two_namespaces["secret"])
    assert resp.status_code == 303 and resp.headers["Location"] == "/ui/"
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("sluice_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert two_namespaces["secret"] not in cookie
    stored = app.extensions["sluice.stores"].sessions
    assert stored.count_for_key(two_namespaces["key_id"]) == 1
    assert not any(two_namespaces["secret"] in str(v) for v in stored.coll.find_one().values())
    page = client.get("/ui/", follow_redirects=True)
    assert page.status_code == 200 and "team-a" in page.get_data(as_text=True)


def test_a_wrong_key_or_a_form_without_its_token_is_refused(app, two_namespaces):
    client = app.test_client()
    assert sign_in(client, "sk_not_a_key").status_code == 401
    client.get("/ui/login")
    assert client.post("/ui/login", data={"api_key": two_namespaces["secret"]}).status_code == 403


def test_the_session_reaches_the_json_api_and_changes_need_the_csrf_token(app, two_namespaces):
    client = app.test_client()
    sign_in(client, two_namespaces["secret"])
    ns = {"X-Namespace": "team-a"}
    resp = client.post("/v1/buckets/list", json={}, headers=ns)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "csrf_failed"
    page = client.get("/ui/n/team-a/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    resp = client.post("/v1/buckets/list", json={}, headers={**ns, "X-CSRF-Token": csrf})
    assert resp.status_code == 200 and [b["bucket_name"] for b in resp.get_json()["results"]] == ["mine"]
    assert client.get("/v1/buckets/mine", headers=ns).status_code == 200   # reads need no token
    # the key's scope holds through the session exactly as with the key itself
    # Another tenant's namespace answers like an unknown one (no probing of names).
    assert client.get("/v1/buckets/secret-b", headers={"X-Namespace": "team-b"}).status_code == 404


def test_a_page_of_another_namespace_is_a_404_that_shows_no_data(app, two_namespaces):
    client = app.test_client()
    sign_in(client, two_namespaces["secret"])
    for path in ("/ui/n/team-b/", "/ui/n/team-b/graph", "/ui/n/team-b/buckets/secret-b", "/ui/n/nope/"):
        resp = client.get(path)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 404, path
        assert "secret-b" not in body.replace("/ui/n/team-b/buckets/secret-b", "")
        assert "team-b" not in [o for o in re.findall(r'<option value="([^"]+)"', body)]


def test_sign_out_ends_the_session_and_revoking_the_key_ends_it_too(app, admin, two_namespaces):
    client = app.test_client()
    sign_in(client, two_namespaces["secret"])
    page = client.get("/ui/n/team-a/").get_data(as_text=True)
    assert client.post("/ui/logout", data={}).status_code == 403         # no CSRF token
    resp = client.post("/ui/logout", data={"csrf_token": form_token(page)})
    assert resp.status_code == 303
    assert app.extensions["sluice.stores"].sessions.count_for_key(two_namespaces["key_id"]) == 0
    assert client.get("/ui/n/team-a/").status_code == 302
    sign_in(client, two_namespaces["secret"])
    assert client.get("/ui/n/team-a/").status_code == 200
    assert admin.delete(f"/v1/api-keys/{two_namespaces['key_id']}")[0] in (200, 204)
    assert client.get("/ui/n/team-a/").status_code == 302
    assert client.get("/v1/buckets/mine", headers={"X-Namespace": "team-a"}).status_code == 401


def test_console_routes_stay_out_of_the_openapi_document(admin):
    status, spec, _ = admin.get("/v1/openapi.json")
    assert status == 200 and spec["paths"] and not [p for p in spec["paths"] if p.startswith("/ui")]


def test_every_console_page_renders_for_the_admin_key(app, api):
    client = app.test_client()
    assert sign_in(client, "sk_admin_test_key").status_code == 303
    for path in ("/ui/n/default-ns/", "/ui/n/default-ns/graph", "/ui/n/default-ns/batches",
                 "/ui/n/default-ns/pipelines", "/ui/n/default-ns/streaming"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:2000])
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert client.get("/ui/n/default-ns/batches/bat_nope").status_code == 404
    assert client.get("/ui/no/such/page").status_code == 404


def test_lag_samples_are_throttled_per_pipeline_and_read_back_for_the_chart(app):
    from datetime import timedelta

    from shared.stores.lag_samples import LagSampleStore
    from shared.timeutil import utcnow

    store = LagSampleStore(app.extensions["sluice.stores"].mongo.db, every_s=3600)
    store.ensure_indexes()
    assert store.record("p1", 0.5) is True
    assert store.record("p1", 9.0) is False          # within the sampling interval
    assert store.record("p2", None) is False          # no lag known yet
    assert store.record("p2", 1.5) is True
    series = store.series("p1", utcnow() - timedelta(hours=1))
    assert [v for _, v in series] == [0.5]
