"""The API client every integration, e2e and browser test speaks through."""
from __future__ import annotations

from tests.support.env import ADMIN_KEY


class Api:
    """A thin client over Flask's test client that speaks our headers."""

    def __init__(self, client, key: str = ADMIN_KEY, namespace: str | None = None):
        self.client, self.key, self.namespace = client, key, namespace

    def as_(self, key: str | None = None, namespace: str | None = None) -> "Api":
        return Api(self.client, key or self.key, namespace if namespace is not None else self.namespace)

    def headers(self, extra: dict | None = None) -> dict:
        h = {"Authorization": f"Bearer {self.key}"}
        if self.namespace:
            h["X-Namespace"] = self.namespace
        return h | (extra or {})

    def call(self, method: str, path: str, json=None, headers: dict | None = None, **kw):
        resp = self.client.open(path, method=method, json=json, headers=self.headers(headers), **kw)
        return resp.status_code, resp.get_json(silent=True), resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)
