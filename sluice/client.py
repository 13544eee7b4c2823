"""`Sluice`: the client object, one attribute per part of the API."""
from __future__ import annotations

import os
from typing import Mapping

import requests

from sluice._http import DEFAULT_NAMESPACE, DEFAULT_URL, Transport
from sluice.resources.data import ApiKeys, Buckets, Collections, Documents, Namespaces, Objects, Taxonomies
from sluice.resources.jobs import Batches, Runs, Tasks
from sluice.resources.pipes import Connections, Pipelines, StreamingPipelines, Webhooks

# What a server that does not say (an older one) accepts: shared/settings.py's defaults.
DEFAULT_LIMITS = {"max_batch_objects": 1000, "max_body_bytes": 10 * 1024 * 1024}


class Sluice:
    """A client of one Sluice API, speaking for one namespace.

        from sluice import Sluice
        client = Sluice("sk_…", url="http://127.0.0.1:8000", namespace="default")
        batch = client.collections.trigger("chunks")
        client.batches.wait(batch["batch_id"], progress=True)

    Unset arguments come from SLUICE_API_KEY, SLUICE_URL (default http://127.0.0.1:8000) and
    SLUICE_NAMESPACE (default "default"), as the `sluice` command reads them. Every failed call
    raises a `sluice.errors.SluiceError` subclass; transient failures of calls that are safe to
    repeat are retried `retries` times with backoff first.
    """

    def __init__(self, api_key: str | None = None, *, url: str | None = None, namespace: str | None = None,
                 timeout: float = 30.0, retries: int = 4, session: requests.Session | None = None,
                 env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self._init(Transport(url or env.get("SLUICE_URL") or DEFAULT_URL,
                             api_key or env.get("SLUICE_API_KEY") or None,
                             namespace or env.get("SLUICE_NAMESPACE") or DEFAULT_NAMESPACE,
                             timeout=timeout, retries=retries, session=session))

    def _init(self, http: Transport) -> None:
        self.http = http
        self._limits: dict | None = None
        self.namespaces = Namespaces(http)
        self.api_keys = ApiKeys(http)
        self.buckets = Buckets(http)
        self.objects = Objects(http, self.limits)
        self.collections = Collections(http)
        self.documents = Documents(http)
        self.taxonomies = Taxonomies(http)
        self.batches = Batches(http)
        self.tasks = Tasks(http)
        self.connections = Connections(http)
        self.pipelines = Pipelines(http)
        self.runs = Runs(http)
        self.streaming_pipelines = StreamingPipelines(http)
        self.webhooks = Webhooks(http)

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def namespace(self) -> str | None:
        return self.http.namespace

    def in_namespace(self, namespace: str | None) -> "Sluice":
        """The same client (and connection pool) for another namespace:
        `client.in_namespace("team-b").buckets.list()`."""
        other = object.__new__(Sluice)
        other._init(self.http.in_namespace(namespace))
        other._limits = self._limits
        return other

    def limits(self) -> dict[str, int]:
        """The server's request limits (objects per batch, body bytes), read once from its
        OpenAPI document."""
        if self._limits is None:
            spec = self.http.get("/v1/openapi.json", namespace=None) or {}
            found = (spec.get("info") or {}).get("x-sluice-limits") or {}
            self._limits = {k: int(found.get(k) or v) for k, v in DEFAULT_LIMITS.items()}
        return self._limits

    def __repr__(self) -> str:
        return f"Sluice(url={self.url!r}, namespace={self.namespace!r})"
