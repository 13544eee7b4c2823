// Sluice console: the live parts of server-rendered pages. No framework, no build step:
// each live page embeds its first state as JSON, and this script polls the JSON API with
// the session cookie (plus the CSRF token for anything that changes state) and redraws.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const json = (id) => JSON.parse($("#" + id).textContent);
  // One status → colour table, the server's (api/console/helpers.py), embedded by base.html.
  const STATUS = JSON.parse(document.getElementById("status-classes").textContent);

  async function api(method, path, body) {
    const headers = { Accept: "application/json", "X-Namespace": document.body.dataset.ns };
    if (method !== "GET") headers["X-CSRF-Token"] = $('meta[name="csrf-token"]').content;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  function toast(message, bad) {
    const t = $("#toast");
    t.textContent = message;
    t.className = bad ? "show bad" : "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 5000);
  }

  function badge(node, status) {
    node.textContent = status;
    node.className = "badge " + (STATUS[status] || "muted");
  }

  const num = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en"));
  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return ms + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    return (ms / 60000).toFixed(1) + " min";
  }
  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toLocaleString();
  }

  // Polls `fn` every `ms` until it returns true; slows down while the tab is hidden.
  function poll(fn, ms) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      let done = false;
      try { done = await fn(); } catch (e) { toast("Update failed: " + e.message, true); }
      if (!done) setTimeout(tick, document.hidden ? ms * 5 : ms);
    }
    setTimeout(tick, ms);
    return () => { stopped = true; };
  }

  function bar(percent, label) {
    const p = Math.max(0, Math.min(100, percent || 0));
    return h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(p), "aria-label": label }, h("span", { style: null, "data-w": p }));
  }
  function sizeBars(root) {
    // Widths are set from script (the CSP allows no inline styles in markup).
    $$(".bar > span[data-w]", root).forEach((s) => { s.style.width = s.dataset.w + "%"; });
  }

  // -- batch page --------------------------------------------------------------------------
  function batchPage(root) {
    const id = root.dataset.batchId;
    const cols = json("batch-collections");
    const terminal = new Set(json("batch-terminal"));
    const name = (cid) => (cols[cid] && cols[cid].name) || cid;
    const href = (tpl, parts) => Object.entries(parts).reduce((s, [k, v]) => s.replace(k, encodeURIComponent(v)), tpl);
    let state = json("batch-initial");
    let failedSeen = -1;
    let cursors = [null];

    function draw(b) {
      state = b;
      badge($("#batch-status"), b.status);
      const cur = b.tiers[b.current_tier] || {};
      $("#batch-where").textContent = terminal.has(b.status)
        ? `finished ${b.total_tiers} tier(s)`
        : `on tier ${b.current_tier} (${b.current_tier + 1} of ${b.total_tiers}): ${(cur.collection_ids || []).map(name).join(", ")}`;
      $("#batch-collection").replaceChildren(h("a", { href: href(root.dataset.collectionHref, { COL: b.collection_id }) }, name(b.collection_id)));
      $("#batch-duration").textContent = duration(b.duration_ms);
      $("#batch-created").textContent = when(b.created_at);
      $("#batch-attempt").textContent = b.attempt;
      const err = $("#batch-error");
      err.hidden = !b.error;
      err.textContent = b.error || "";
      $("#batch-cancel").disabled = terminal.has(b.status);
      $("#batch-retry").disabled = !terminal.has(b.status) || !b.counters.failed;
      $("#batch-tiers").replaceChildren(...b.tiers.map((t) => {
        const c = t.counters;
        const label = `Tier ${t.tier_num}: ${t.collection_ids.map(name).join(", ")}`;
        return h("div", { class: "tier", "data-tier": t.tier_num, "data-status": t.status },
          h("div", { class: "tier-head" }, h("h3", {}, label), h("span", { class: "badge " + (STATUS[t.status] || "muted") }, t.status),
            h("span", { class: "muted" }, `${t.progress.percent}% · ${num(t.progress.processed)} of ${num(t.progress.total)} · ${duration(t.duration_ms)} · chunks ${t.chunks.done}/${t.chunks.total}`)),
          bar(t.progress.percent, label + " progress"),
          h("dl", { class: "funnel-counts" },
            ["fetched", "after_filter", "processed", "written", "failed"].map((k) =>
              h("div", { class: k === "failed" && c[k] ? "bad" : null }, h("dt", {}, k.replace("_", " ")), h("dd", { "data-counter": k }, num(c[k]))))),
          Object.keys(t.errors_by_code).length
            ? h("p", { class: "tier-errors" }, "errors: ", Object.entries(t.errors_by_code).map(([k, v]) => h("span", { class: "badge bad" }, `${k} ${v}`)))
            : null);
      }));
      sizeBars($("#batch-tiers"));
      const errs = Object.entries(b.error_summary || {});
      $("#batch-errors").replaceChildren(...(errs.length ? errs.map(([k, v]) => h("li", { class: "badge bad", "data-code": k }, k, " ", h("b", {}, num(v))))
        : [h("li", { class: "muted" }, "none")]));
      if (b.counters.failed !== failedSeen) {
        failedSeen = b.counters.failed;
        loadFailed(cursors[cursors.length - 1]);
      }
    }

    async function loadFailed(cursor) {
      const q = "limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const page = await api("GET", `/v1/batches/${encodeURIComponent(id)}/failed-documents?${q}`);
      const rows = page.results || [];
      $("#failed-table tbody").replaceChildren(...rows.map((f) => {
        const up = cols[f.collection_id] && cols[f.collection_id].upstream;
        const src = f.source_id.startsWith("obj_")
          ? h("a", { href: href(root.dataset.objectHref, { ID: f.source_id }) }, h("code", {}, f.source_id))
          : up ? h("a", { href: href(root.dataset.documentHref, { COL: up, ID: f.source_id }) }, h("code", {}, f.source_id))
            : h("code", {}, f.source_id);
        return h("tr", { "data-code": f.code },
          h("td", {}, f.tier_num), h("td", {}, name(f.collection_id)),
          h("td", {}, h("span", { class: "badge bad" }, f.code)), h("td", { class: "msg" }, f.message),
          h("td", { class: "num" }, f.line === null || f.line === undefined ? "—" : f.line), h("td", {}, src),
          h("td", {}, h("a", { href: href(root.dataset.objectHref, { ID: f.root_object_id }) }, h("code", {}, f.root_object_id))));
      }));
      $("#failed-empty").hidden = rows.length > 0;
      const total = (page.pagination || {}).total || 0;
      $("#failed-count").textContent = total ? `${total} failed record(s), page ${cursors.length}` : "";
      const next = (page.pagination || {}).next_cursor;
      $("#failed-next").disabled = !next;
      $("#failed-next").onclick = () => { cursors.push(next); loadFailed(next); };
      $("#failed-first").disabled = cursors.length <= 1;
      $("#failed-first").onclick = () => { cursors = [null]; loadFailed(null); };
    }

    async function refresh() {
      draw(await api("GET", `/v1/batches/${encodeURIComponent(id)}`));
      return terminal.has(state.status);
    }
    let stop = () => {};
    const start = () => { stop(); if (!terminal.has(state.status)) stop = poll(refresh, 1000); };

    $("#batch-cancel").addEventListener("click", async () => {
      if (!window.confirm("Cancel this batch? Chunks already running finish; nothing further starts.")) return;
      try { draw(await api("POST", `/v1/batches/${encodeURIComponent(id)}/cancel`, {})); toast("Batch canceled."); }
      catch (e) { toast("Cancel refused: " + e.message, true); }
    });
    $("#batch-retry").addEventListener("click", async () => {
      try {
        draw(await api("POST", `/v1/batches/${encodeURIComponent(id)}/retry`, { retry_mode: "failed_only" }));
        toast("Retrying the failed records.");
        start();
      } catch (e) { toast("Retry refused: " + e.message, true); }
    });
    draw(state);
    start();
  }

  // -- pipeline run page -------------------------------------------------------------------
  function runPage(root) {
    const id = root.dataset.runId;
    const terminal = new Set(json("run-terminal"));
    let failedSeen = -1;
    function draw(r) {
      badge($("#run-status"), r.status);
      $("#run-progress").textContent = `${r.progress.percent}% · ${num(r.progress.read)} of ${num(r.progress.total)} records · chunks ${r.progress.chunks_done}/${r.progress.chunks}`;
      $("#run-trigger").textContent = r.trigger || "—";
      $("#run-start").textContent = when(r.startTime);
      $("#run-end").textContent = when(r.endTime);
      $("#run-incremental").textContent = r.incremental ? "yes" : "no";
      $("#run-error").hidden = !r.error;
      $("#run-error").textContent = r.error || "";
      const top = Math.max(1, r.passed[0] + r.failed[0], r.progress.total);
      $("#run-funnel").replaceChildren(...r.steps.map((step, i) => h("div", { class: "step", "data-step": step },
        h("h3", {}, `${i + 1}. ${step}`),
        bar(100 * r.passed[i] / top, `${step}: ${r.passed[i]} passed`),
        h("p", {}, h("span", { "data-passed": step }, num(r.passed[i])), " passed",
          r.failed[i] ? h("span", { class: "bad" }, " · ", h("span", { "data-failed": step }, num(r.failed[i])), " failed") : null))));
      sizeBars($("#run-funnel"));
      const failed = r.failed.reduce((a, b) => a + b, 0);
      if (failed !== failedSeen) { failedSeen = failed; loadErrors(); }
      return terminal.has(r.status);
    }
    async function loadErrors() {
      const page = await api("GET", `/v1/pipelines/runs/${encodeURIComponent(id)}/errors?limit=50`);
      const rows = page.results || [];
      $("#run-errors tbody").replaceChildren(...rows.map((g) => h("tr", { "data-step": g.step },
        h("td", {}, g.step), h("td", {}, h("span", { class: "badge bad" }, g.code || "—")), h("td", { class: "msg" }, g.message),
        h("td", { class: "num" }, num(g.count)), h("td", {}, when(g.last_occurrence)),
        h("td", {}, (g.sample_keys || []).map((k) => h("code", {}, String(k), " "))))));
      $("#run-errors-empty").hidden = rows.length > 0;
    }
    if (!draw(json("run-initial"))) poll(async () => draw(await api("GET", `/v1/pipelines/runs/${encodeURIComponent(id)}`)), 1000);
  }

  // -- streaming pipeline page -------------------------------------------------------------
  function streamPage(root) {
    const base = `/v1/projects/${encodeURIComponent(root.dataset.project)}/streaming-pipelines/${encodeURIComponent(root.dataset.pipelineId)}`;
    const running = new Set(["STARTING", "SNAPSHOTTING", "STREAMING", "STOPPING"]);
    function draw(s) {
      badge($("#stream-status"), s.status);
      $("#stream-lag").textContent = s.lagSeconds === null || s.lagSeconds === undefined ? "—" : s.lagSeconds.toFixed(2) + " s";
      $("#stream-counters").replaceChildren(...Object.entries(s.counters).map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { "data-counter": k }, num(v)))));
      $("#stream-error").hidden = !s.error;
      $("#stream-error").textContent = s.error || "";
      $("#stream-start").disabled = running.has(s.status);
      $("#stream-stop").disabled = !running.has(s.status) || s.status === "STOPPING";
      $("#stream-failures").replaceChildren(...((s.recentFailures || []).length
        ? s.recentFailures.map((f) => h("li", {}, h("code", {}, f.key || ""), " ", f.code || "", " ", f.message || ""))
        : [h("li", { class: "muted" }, "none")]));
    }
    async function command(cmd) {
      try { const r = await api("POST", base + "/commands", { command: cmd }); toast(`${cmd} accepted: ${r.status}`); draw(await api("GET", base + "/status")); }
      catch (e) { toast(`${cmd} refused: ${e.message}`, true); }
    }
    $("#stream-start").addEventListener("click", () => command("START"));
    $("#stream-stop").addEventListener("click", () => command("STOP"));
    draw(json("stream-initial"));
    poll(async () => { draw(await api("GET", base + "/status")); return false; }, 2000);
    setInterval(() => { $("#stream-lag-chart").src = root.dataset.lagSrc + "?t=" + Date.now(); }, 15000);
  }

  // -- small actions on static pages -------------------------------------------------------
  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    btn.disabled = true;
    try {
      if (btn.dataset.action === "trigger") {
        const r = await api("POST", `/v1/collections/${encodeURIComponent(btn.dataset.collection)}/trigger`, {});
        window.location.assign(btn.dataset.next.replace("BATCH", encodeURIComponent(r.batch_id)));
      } else if (btn.dataset.action === "run-pipeline") {
        const r = await api("POST", `/v1/pipelines/${encodeURIComponent(btn.dataset.pipeline)}/runs`, {});
        window.location.assign(btn.dataset.next.replace("RUN", encodeURIComponent(r.id)));
      }
    } catch (e) { toast(e.message, true); btn.disabled = false; }
  });
  document.addEventListener("change", async (ev) => {
    const box = ev.target;
    if (box.matches("select[data-autosubmit]")) { box.form.submit(); return; }
    if (!box.matches('input[data-action="toggle-pipeline"]')) return;
    const want = box.checked;
    try {
      await api("PUT", `/v1/pipelines/${encodeURIComponent(box.dataset.pipeline)}/status`, { enabled: want });
      box.nextElementSibling.textContent = want ? "on" : "off";
      toast(`Pipeline ${want ? "enabled" : "disabled"}.`);
    } catch (e) { box.checked = !want; toast("Not changed: " + e.message, true); }
  });

  async function workers(node) {
    try {
      const resp = await fetch(node.dataset.readyz, { headers: { Accept: "application/json" } });
      const data = await resp.json();
      const list = data.workers || [];
      node.replaceChildren("Workers online: ", h("b", { "data-workers": list.length }, String(list.length)),
        list.length ? h("span", { class: "muted" }, " (" + list.join(", ") + ")") : h("span", { class: "bad" }, " — " + ((data.error || {}).message || "none")));
    } catch (e) { node.textContent = "Workers online: unknown (" + e.message + ")"; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const live = $("[data-live]");
    if (live && live.dataset.live === "batch") batchPage(live);
    if (live && live.dataset.live === "run") runPage(live);
    if (live && live.dataset.live === "stream") streamPage(live);
    const w = $("#workers");
    if (w) workers(w);
  });
})();
