"""Reading a Prometheus scrape of GET /metrics."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def scrape(admin) -> dict[str, list]:
    """{metric family name: [(sample name, labels, value)]}."""
    resp = admin.client.get("/metrics", headers={"Authorization": f"Bearer {admin.key}"})
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return {fam.name: [(s.name, s.labels, s.value) for s in fam.samples]
            for fam in text_string_to_metric_families(resp.get_data(as_text=True))}


def value(families: dict, family: str, sample: str, **labels: str) -> float | None:
    for name, got, v in families.get(family, []):
        if name == sample and all(got.get(k) == want for k, want in labels.items()):
            return v
    return None
