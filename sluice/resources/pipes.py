"""Connections, pipelines, streaming pipelines and webhooks."""
from __future__ import annotations

from typing import Any, Iterator

from sluice.resources._base import Resource, body, seg


class Connections(Resource):
    """`client.connections.create("docs-out", "collection")`; `test` reaches it once."""

    def create(self, name: str, type: str, config: dict | None = None) -> dict:  # noqa: A002 - the API's name
        return self._http.post("/v1/connections", body(name=name, type=type, config=config))

    def get(self, connection: str) -> dict:
        return self._http.get(f"/v1/connections/{seg(connection)}")

    def update(self, connection: str, **changes: Any) -> dict:
        return self._http.patch(f"/v1/connections/{seg(connection)}", changes)

    def delete(self, connection: str) -> dict:
        return self._http.delete(f"/v1/connections/{seg(connection)}")

    def list(self, *, type: str | None = None, limit: int | None = None) -> Iterator[dict]:  # noqa: A002
        return self._http.pages("GET", "/v1/connections", params=body(type=type), limit=limit)

    def test(self, connection: str) -> dict:
        """{"ok": True, "latency_ms": 1.2} or {"ok": False, "error": "..."}"""
        return self._http.post(f"/v1/connections/{seg(connection)}/test")


class Pipelines(Resource):
    """Seed 000 and 001:

        pipeline_id = client.pipelines.create(alias="MyPipeline", code="function execute() { return true; }",
            source={"connection_id": "conn_456"}, destination={"connection_id": "conn_431",
            "collection": "data_bucket"})["pipeline_id"]
        run_id = client.pipelines.run(pipeline_id)["id"]
    """

    def create(self, *, source: dict, destination: dict, alias: str | None = None, code: str | None = None,
               transformation_code: str | None = None, metadata: dict | None = None, **fields: Any) -> dict:
        return self._http.post("/v1/pipelines", body(alias=alias, code=code, transformation_code=transformation_code,
                                                     source=source, destination=destination, metadata=metadata,
                                                     **fields))

    def get(self, pipeline_id: str) -> dict:
        return self._http.get(f"/v1/pipelines/{seg(pipeline_id)}")

    def list(self, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("GET", "/v1/pipelines", limit=limit)

    def replace(self, pipeline_id: str, **fields: Any) -> dict:
        return self._http.put(f"/v1/pipelines/{seg(pipeline_id)}", fields)

    def update(self, pipeline_id: str, **changes: Any) -> dict:
        return self._http.patch(f"/v1/pipelines/{seg(pipeline_id)}", changes)

    def delete(self, pipeline_id: str) -> None:
        self._http.delete(f"/v1/pipelines/{seg(pipeline_id)}")

    def set_status(self, pipeline_id: str, enabled: bool) -> None:
        self._http.put(f"/v1/pipelines/{seg(pipeline_id)}/status", {"enabled": enabled})

    def set_schedule(self, pipeline_id: str, period: str | None) -> None:
        """"5m" … "24h", or None to stop the scheduler."""
        self._http.put(f"/v1/pipelines/{seg(pipeline_id)}/schedule", {"period": period})

    def run(self, pipeline_id: str, incremental: bool | None = None) -> dict:
        """Start a run; {"id": "run_…"} at once (poll it with `client.runs.wait`)."""
        return self._http.post(f"/v1/pipelines/{seg(pipeline_id)}/runs", body(incremental=incremental))

    def backfill(self, pipeline_id: str, *, skipped: bool | None = None, start: str | None = None,
                 end: str | None = None, window: str | None = None) -> dict:
        """Run the skipped occurrences (`skipped=True`) or `start`..`end` (ISO times) as
        incremental windows of `window` ("1h", "24h", …), one run per window, in order."""
        return self._http.post(f"/v1/pipelines/{seg(pipeline_id)}/backfill",
                               body(skipped=skipped, start=start, end=end, window=window))


class StreamingPipelines(Resource):
    """Seed 004, inside a project (a namespace id or name; the client's namespace by default):

        sp = client.streaming_pipelines.create(name="orders", streamingSource={...}, streamingTarget={...})
        client.streaming_pipelines.start(sp["streamingPipelineId"])
    """

    def _base(self, project: str | None) -> str:
        ref = project or self._http.namespace
        return f"/v1/projects/{seg(ref or '')}/streaming-pipelines"

    def create(self, *, name: str, streamingSource: dict, streamingTarget: dict,  # noqa: N803 - seed names
               project: str | None = None, **fields: Any) -> dict:
        return self._http.post(self._base(project), {"name": name, "streamingSource": streamingSource,
                                                     "streamingTarget": streamingTarget, **fields})

    def get(self, pipeline_id: str, *, project: str | None = None) -> dict:
        return self._http.get(f"{self._base(project)}/{seg(pipeline_id)}")

    def list(self, *, project: str | None = None, limit: int | None = None) -> Iterator[dict]:
        """Every streaming pipeline of the project (this route pages by page/size)."""
        page, seen = 0, 0
        while True:
            answer = self._http.get(self._base(project), {"page": page, "size": 100})
            rows = answer.get("results") or []
            for row in rows:
                yield row
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if not rows or (page + 1) * 100 >= int(answer.get("total") or 0):
                return
            page += 1

    def replace(self, pipeline_id: str, *, project: str | None = None, **definition: Any) -> dict:
        return self._http.put(f"{self._base(project)}/{seg(pipeline_id)}", definition)

    def delete(self, pipeline_id: str, *, project: str | None = None) -> None:
        self._http.delete(f"{self._base(project)}/{seg(pipeline_id)}")

    def start(self, pipeline_id: str, *, snapshot: bool | None = None, resume_from: str | None = None,
              project: str | None = None) -> dict:
        """START; `resume_from` ("snapshot", "now" or an ISO timestamp) says where to begin when the
        saved resume token is gone."""
        return self._http.post(f"{self._base(project)}/{seg(pipeline_id)}/commands",
                               body(command="START", snapshot=snapshot, resumeFrom=resume_from))

    def stop(self, pipeline_id: str, *, project: str | None = None) -> dict:
        return self._http.post(f"{self._base(project)}/{seg(pipeline_id)}/commands", {"command": "STOP"})

    def status(self, pipeline_id: str, *, project: str | None = None) -> dict:
        return self._http.get(f"{self._base(project)}/{seg(pipeline_id)}/status")

    def environments(self, *, project: str | None = None) -> dict:
        ref = project or self._http.namespace
        return self._http.get(f"/v1/projects/{seg(ref or '')}/environments")


class Webhooks(Resource):
    """`client.webhooks.create(url="https://…", events=["batch.completed"], secret="…")`"""

    def create(self, *, url: str, events: list[str], **fields: Any) -> dict:
        return self._http.post("/v1/webhooks", {"url": url, "events": events, **fields})

    def get(self, webhook_id: str) -> dict:
        return self._http.get(f"/v1/webhooks/{seg(webhook_id)}")

    def list(self, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("GET", "/v1/webhooks", limit=limit)

    def delete(self, webhook_id: str) -> dict:
        return self._http.delete(f"/v1/webhooks/{seg(webhook_id)}")

    def deliveries(self, webhook_id: str, *, status: str | None = None, limit: int | None = None) -> Iterator[dict]:
        """Deliveries, newest first; `status="failed"` shows what needs a re-send."""
        return self._http.pages("GET", f"/v1/webhooks/{seg(webhook_id)}/deliveries", params=body(status=status),
                                limit=limit)

    def resend(self, webhook_id: str, delivery_id: str) -> dict:
        return self._http.post(f"/v1/webhooks/{seg(webhook_id)}/deliveries/{seg(delivery_id)}/resend")
