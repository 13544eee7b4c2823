"""The console's pure parts: DAG layout, lineage links, the lag chart, time formatting."""
from __future__ import annotations

from datetime import datetime, timedelta

from api.console import graph, lineage
from api.console.charts import lag_svg, nice_max
from api.console.helpers import ago, duration


def col(cid: str, *, bucket: str | None = None, source: str | None = None) -> dict:
    src = {"type": "bucket", "bucket_ids": [bucket]} if bucket else {"type": "collection", "collection_ids": [source]}
    return {"_id": cid, "collection_name": cid, "source": src}


def test_a_three_tier_dag_has_one_column_per_tier_and_an_edge_per_source():
    buckets = [{"_id": "b", "bucket_name": "b"}]
    cols = [col("c3", source="c2"), col("c1", bucket="b"), col("c2", source="c1")]
    nodes, edges, width, height = graph.layout(buckets, cols)
    assert {n.id: n.column for n in nodes} == {"b": 0, "c1": 1, "c2": 2, "c3": 3}
    assert {(e.source, e.target) for e in edges} == {("b", "c1"), ("c1", "c2"), ("c2", "c3")}
    assert width > 3 * graph.NODE_W and height >= graph.NODE_H


def test_a_collection_sits_right_of_its_deepest_source_and_rows_do_not_overlap():
    buckets = [{"_id": "b1", "bucket_name": "b1"}, {"_id": "b2", "bucket_name": "b2"}]
    cols = [col("a", bucket="b1"), col("b", bucket="b2"), col("deep", source="a"), col("side", source="a")]
    nodes, edges, _, _ = graph.layout(buckets, cols)
    where = {n.id: (n.column, n.row) for n in nodes}
    assert where["deep"][0] == where["side"][0] == 2
    assert len(set(where.values())) == len(where)
    assert len(edges) == 4


def test_missing_sources_are_ignored_rather_than_drawn():
    nodes, edges, _, _ = graph.layout([], [col("orphan", source="gone"), col("lost", bucket="deleted")])
    assert {n.id: n.column for n in nodes} == {"orphan": 1, "lost": 1} and edges == []


def test_lineage_steps_know_the_bucket_of_an_object_and_the_collection_of_a_document():
    path = ["bucket:bkt_1", "object:obj_1", "collection:col_a", "document:doc_a", "collection:col_b",
            "document:doc_b", "collection:col_c"]
    steps = lineage.steps(path)
    assert [(s.kind, s.id, s.container) for s in steps] == [
        ("bucket", "bkt_1", None), ("object", "obj_1", "bkt_1"), ("collection", "col_a", None),
        ("document", "doc_a", "col_a"), ("collection", "col_b", None), ("document", "doc_b", "col_b"),
        ("collection", "col_c", None)]
    assert lineage.steps(["garbage", ""]) == [] and lineage.steps(None) == []


def test_the_lag_chart_draws_the_last_hour_and_describes_itself():
    now = datetime(2026, 1, 1, 12, 0, 0)
    samples = [(now - timedelta(minutes=m), float(m % 7)) for m in range(90, 0, -5)]
    svg = lag_svg(samples, now)
    assert svg.startswith("<svg") and "<polyline" in svg and "peak 6.00 s" in svg
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 12          # samples older than an hour are left out
    assert "no samples yet" in lag_svg([], now) and "<polyline" not in lag_svg([], now)
    assert nice_max(0.3) == 1 and nice_max(7) == 10 and nice_max(5000) == 5001


def test_times_and_durations_read_like_a_person_would_say_them():
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert ago(now - timedelta(seconds=30), now) == "30 s ago"
    assert ago(now + timedelta(minutes=10), now) == "in 10 min"
    assert ago(now - timedelta(hours=3), now) == "3.0 h ago" and ago(None) == "—"
    assert duration(None) == "—" and duration(250) == "250 ms" and duration(4200) == "4.2 s"
