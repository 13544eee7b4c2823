"""The web console in a real browser (headless chromium) against a real stack."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import screenshot, sign_in
from tests.support.env import ADMIN_KEY
from tests.support.waiting import wait_until


N = 30
SLOW = "function transform(d) { var x = 0; for (var i = 0; i < 1000000; i++) { x += i; } return {n: d.n, body: d.body}; }"
PICKY = """function transform(d) {
  if (d.n % 3 === 0) {
    throw new Error('record ' + d.n + ' is not welcome');
  }
  return {n: d.n};
}"""


def js(code: str, fields: dict) -> list[dict]:
    return [{"feature_extractor_name": "js_transform", "parameters": {"code": code, "output_fields": fields}}]


@pytest.fixture(scope="module")
def world(stack) -> dict:
    """Namespace `shop` with a 3-tier DAG (bucket → clean → loud → stats); namespace `lab`
    with a collection whose JavaScript fails on every third record, a slow one and a
    scheduled pipeline; a key scoped to `shop` only."""
    for name in ("shop", "lab"):
        stack.call("POST", "/v1/namespaces", json={"namespace_name": name})
    key = stack.call("POST", "/v1/api-keys", json={"name": "shop-only", "namespaces": ["shop"]})["secret"]
    objects = [{"data": {"sku": f"s{i}", "n": i, "body": f"item {i} football goal rain"}} for i in range(N)]
    for ns, bucket in (("shop", "items"), ("lab", "raw")):
        stack.call("POST", "/v1/buckets", namespace=ns, json={"bucket_name": bucket, "unique_key": {"fields": ["sku"]}})
        stack.call("POST", f"/v1/buckets/{bucket}/objects/batch", namespace=ns, json={"objects": objects})
    shop = lambda path, body: stack.call("POST", path, namespace="shop", json=body)  # noqa: E731
    shop("/v1/collections", {"collection_name": "clean", "source": {"type": "bucket", "bucket_id": "items"},
                             "feature_extractors": js("function transform(d) { return {n: d.n, body: d.body}; }",
                                                      {"n": "integer", "body": "string"})})
    shop("/v1/collections", {"collection_name": "loud", "source": {"type": "collection", "collection_id": "clean"},
                             "feature_extractors": js("function transform(d) { return {n: d.n, text: d.body.toUpperCase()}; }",
                                                      {"n": "integer", "text": "string"})})
    shop("/v1/collections", {"collection_name": "stats", "source": {"type": "collection", "collection_id": "loud"},
                             "feature_extractors": [{"feature_extractor_name": "text_stats", "input_mapping": {"text": "text"}}]})
    lab = lambda path, body: stack.call("POST", path, namespace="lab", json=body)  # noqa: E731
    lab("/v1/collections", {"collection_name": "picky", "source": {"type": "bucket", "bucket_id": "raw"},
                            "feature_extractors": js(PICKY, {"n": "integer"})})
    # ~0.2 s of CPU per record, 120 records on two processes: a batch that runs for several seconds
    stack.call("POST", "/v1/buckets", namespace="lab", json={"bucket_name": "big"})
    stack.call("POST", "/v1/buckets/big/objects/batch", namespace="lab",
               json={"objects": [{"data": {"n": i, "body": "x"}} for i in range(120)]})
    lab("/v1/collections", {"collection_name": "slow", "source": {"type": "bucket", "bucket_id": "big"},
                            "feature_extractors": js(SLOW, {"n": "integer", "body": "string"})})
    lab("/v1/collections", {"collection_name": "copy", "source": {"type": "bucket", "bucket_id": "raw"}})
    src = lab("/v1/connections", {"name": "raw-src", "type": "bucket", "config": {"bucket_id": "raw"}})
    dst = lab("/v1/connections", {"name": "copy-dst", "type": "collection", "config": {"collection_id": "copy"}})
    pipe = lab("/v1/pipelines", {"alias": "nightly-copy", "source": {"connection_id": src["connection_id"]},
                                  "destination": {"connection_id": dst["connection_id"]},
                                  "transformation_code": "function transform(r) { if (r.n === 7) throw new Error('seven'); return {sku: r.sku}; }"})
    stack.call("PUT", f"/v1/pipelines/{pipe['pipeline_id']}/schedule", namespace="lab", json={"period": "24h"})
    return {"key": key, "pipeline": pipe["pipeline_id"]}


def test_sign_in_with_a_key_and_see_the_overview(page, stack, world):
    page.goto(stack.base + "/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    sign_in(page, stack, world["key"])
    expect(page.get_by_role("heading", name=re.compile("Overview"))).to_be_visible()
    expect(page.locator("#workers [data-workers]")).not_to_have_text("0", timeout=10_000)
    stored = page.evaluate("() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
    assert all(world["key"] not in s for s in stored) and "sluice_session" not in stored[0]   # HttpOnly
    options = page.locator("#ns-switch option").all_inner_texts()
    assert options == ["shop"]   # the switcher offers only what the key may see


def test_trigger_and_watch_the_batch_complete_without_a_reload(page, stack, world):
    sign_in(page, stack, world["key"], "/ui/n/shop/collections/clean")
    page.get_by_role("button", name="Trigger a batch").click()
    page.wait_for_url(re.compile(r"/ui/n/shop/batches/bat_"))
    page.evaluate("() => { window.__sameDocument = true; }")
    expect(page.locator("#batch-status")).to_have_text("COMPLETED", timeout=90_000)
    assert page.evaluate("() => window.__sameDocument === true")   # no reload happened
    tiers = page.locator("#batch-tiers .tier")
    expect(tiers).to_have_count(3)
    for t in range(3):
        tier = tiers.nth(t)
        for counter, value in (("fetched", N), ("after_filter", N), ("processed", N), ("written", N), ("failed", 0)):
            expect(tier.locator(f'[data-counter="{counter}"]')).to_have_text(str(value))
        expect(tier.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#failed-empty")).to_be_visible()


def processed_once(stack) -> None:
    """The shop DAG has run at least once (so the graph shows document counts)."""
    if stack.call("GET", "/v1/collections/stats", namespace="shop")["document_count"]:
        return
    batch = stack.call("POST", "/v1/collections/clean/trigger", namespace="shop", json={})
    wait_until(lambda: stack.call("GET", f"/v1/batches/{batch['batch_id']}", namespace="shop")["status"] == "COMPLETED",
               90, interval=0.3, message="the shop batch to complete")


def test_the_graph_of_a_three_tier_dag_shows_its_nodes_and_edges(page, stack, world):
    processed_once(stack)
    sign_in(page, stack, world["key"], "/ui/n/shop/graph")
    expect(page.locator("#dag .node")).to_have_count(4)      # bucket items → clean → loud → stats
    expect(page.locator("#dag .edge")).to_have_count(3)
    ids = {n: page.locator(f'#dag .node[aria-label^="{kind} {n}"]').get_attribute("data-id")
           for kind, n in (("bucket", "items"), ("collection", "clean"), ("collection", "loud"),
                           ("collection", "stats"))}
    edges = {(e.get_attribute("data-source"), e.get_attribute("data-target")) for e in page.locator("#dag .edge").all()}
    assert edges == {(ids["items"], ids["clean"]), (ids["clean"], ids["loud"]), (ids["loud"], ids["stats"])}
    expect(page.locator('#dag .node[aria-label^="collection stats"]')).to_contain_text("text_stats")
    expect(page.locator('#dag .node[aria-label^="collection stats"]')).to_contain_text(f"{N} documents")
    screenshot(page, "graph")
    page.locator('#dag .node[aria-label^="collection loud"]').focus()
    page.keyboard.press("Enter")                               # nodes open with the keyboard too
    expect(page.get_by_role("heading", name=re.compile("Collection loud"))).to_be_visible()


def test_a_document_links_its_lineage_back_to_the_root_object(page, stack, world):
    processed_once(stack)
    sign_in(page, stack, world["key"], "/ui/n/shop/collections/stats")
    page.locator("table a[href*='/documents/']").first.click()
    steps = page.locator("#lineage li")
    # bucket, object, clean, its document, loud, its document, stats' own entry, "this document"
    expect(steps).to_have_count(8)
    assert [steps.nth(i).get_attribute("data-kind") for i in range(8)] == [
        "bucket", "object", "collection", "document", "collection", "document", "collection", "self"]
    steps.nth(3).get_by_role("link").click()                      # the upstream document in `clean`
    expect(page.locator("#lineage li")).to_have_count(4)
    page.locator('#lineage li[data-kind="object"] a').click()
    expect(page.get_by_role("heading", name=re.compile("Object"))).to_be_visible()


def test_a_batch_with_js_failures_shows_them_with_their_codes(page, stack, world):
    batch = stack.call("POST", "/v1/collections/picky/trigger", namespace="lab", json={})
    sign_in(page, stack, ADMIN_KEY, f"/ui/n/lab/batches/{batch['batch_id']}")
    expect(page.locator("#batch-status")).to_have_text("COMPLETED_WITH_ERRORS", timeout=90_000)
    expect(page.locator('#batch-errors [data-code="JS_ERROR"] b')).to_have_text(str(N // 3))
    rows = page.locator("#failed-table tbody tr")
    expect(rows).to_have_count(N // 3)
    first = rows.first
    expect(first).to_have_attribute("data-code", "JS_ERROR")
    expect(first.locator("td.msg")).to_contain_text("is not welcome")
    expect(first.locator("td.num")).to_have_text("3")           # the line of the throw
    first.locator("td").nth(6).get_by_role("link").click()      # its root object
    expect(page.get_by_role("heading", name=re.compile("Object"))).to_be_visible()
    expect(page.locator("pre")).to_contain_text('"n"')


def test_cancel_a_running_batch_from_its_page(page, stack, world):
    batch = stack.call("POST", "/v1/collections/slow/trigger", namespace="lab", json={})
    sign_in(page, stack, ADMIN_KEY, f"/ui/n/lab/batches/{batch['batch_id']}")
    expect(page.locator("#batch-status")).to_have_text("PROCESSING", timeout=30_000)
    wait_until(lambda: int(page.locator('[data-counter="processed"]').first.inner_text().replace(",", "")) > 0,
               30, interval=0.2, message="the slow batch to make progress")
    screenshot(page, "batch-running")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel batch").click()
    expect(page.locator("#batch-status")).to_have_text("CANCELED", timeout=15_000)
    expect(page.get_by_role("button", name="Cancel batch")).to_be_disabled()
    assert stack.call("GET", f"/v1/batches/{batch['batch_id']}", namespace="lab")["status"] == "CANCELED"


def test_a_run_page_shows_the_step_funnel_live_and_grouped_errors(page, stack, world):
    sign_in(page, stack, ADMIN_KEY, "/ui/n/lab/pipelines")
    card = page.locator(f'[data-pipeline-id="{world["pipeline"]}"]')
    expect(card).to_contain_text("24h")
    card.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/ui/n/lab/runs/run_"))
    expect(page.locator("#run-status")).to_have_text("COMPLETED_WITH_ERRORS", timeout=90_000)
    for step, passed in (("read", N), ("filter", N), ("transform", N - 1), ("validate", N - 1), ("write", N - 1)):
        expect(page.locator(f'[data-passed="{step}"]')).to_have_text(str(passed))
    expect(page.locator('#run-errors tbody tr[data-step="transform"]')).to_contain_text("seven")
    screenshot(page, "run")
    page.goto(stack.base + "/ui/n/lab/pipelines")
    expect(card).to_contain_text("COMPLETED_WITH_ERRORS")   # the last run


def test_the_enabled_toggle_changes_the_pipeline(page, stack, world):
    sign_in(page, stack, ADMIN_KEY, "/ui/n/lab/pipelines")
    toggle = page.get_by_role("checkbox").first
    expect(toggle).to_be_checked()
    toggle.uncheck()
    wait_until(lambda: stack.call("GET", f"/v1/pipelines/{world['pipeline']}", namespace="lab")["enabled"] is False,
               10, message="the pipeline to be disabled")
    toggle.check()
    wait_until(lambda: stack.call("GET", f"/v1/pipelines/{world['pipeline']}", namespace="lab")["enabled"] is True,
               10, message="the pipeline to be enabled again")


def test_a_key_of_namespace_a_cannot_open_a_page_of_namespace_b(page, stack, world):
    batch = stack.call("POST", "/v1/collections/picky/trigger", namespace="lab", json={})
    sign_in(page, stack, world["key"])
    for path in ("/ui/n/lab/", "/ui/n/lab/graph", f"/ui/n/lab/batches/{batch['batch_id']}",
                 "/ui/n/lab/collections/picky"):
        resp = page.goto(stack.base + path)
        assert resp.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        body = page.content()
        assert "picky" not in body.replace(path, "") and batch["batch_id"] not in body.replace(path, "")


def test_a_request_without_the_csrf_token_is_refused(page, stack, world):
    sign_in(page, stack, world["key"], "/ui/n/shop/")
    before = stack.call("POST", "/v1/batches/list", namespace="shop", json={})["pagination"]["total"]
    answers = page.evaluate("""async () => {
      const post = (headers) => fetch('/v1/collections/clean/trigger', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-Namespace': 'shop', ...headers}, body: '{}'});
      const without = await post({});
      const wrong = await post({'X-CSRF-Token': 'forged'});
      const logout = await fetch('/ui/logout', {method: 'POST', credentials: 'same-origin'});
      return [without.status, (await without.json()).error.code, wrong.status, logout.status];
    }""")
    assert answers == [403, "csrf_failed", 403, 403]
    assert stack.call("POST", "/v1/batches/list", namespace="shop", json={})["pagination"]["total"] == before


def test_sign_out_ends_the_session(page, stack, world):
    sign_in(page, stack, world["key"], "/ui/n/shop/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.goto(stack.base + "/ui/n/shop/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    status = page.evaluate("async () => (await fetch('/v1/batches/list', {method: 'POST', headers: {'X-Namespace': 'shop'}})).status")
    assert status == 401


def test_the_batch_page_reads_well_at_phone_width(page, stack, world):
    processed_once(stack)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, stack, world["key"], "/ui/n/shop/batches")
    page.get_by_role("link", name=re.compile("^bat_")).first.click()
    expect(page.locator("#batch-status")).to_have_text("COMPLETED")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at phone width"
    page.keyboard.press("Tab")   # the skip link comes first for keyboard users
    assert page.evaluate("() => document.activeElement.className") == "skip"
