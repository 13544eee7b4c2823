"""`sluice demo`: the README's "see it work" path. Starts the embedded system (as `sluice up`
does), then through the API: namespace `demo`, a bucket of generated articles, a 3-tier
collection DAG (text_splitter -> js_transform -> text_stats with a taxonomy), a bucket ->
collection pipeline; triggers the DAG and runs the pipeline with live progress, and prints a
summary. Everything is stopped afterwards unless --keep."""
from __future__ import annotations

import random
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from cli.apply import apply_spec
from cli.errors import exit_code, exit_code_for_status, format_error
from cli.ops import batch_outcome, run_outcome, wait_batch, wait_run
from cli.procs import Embedded, embedded
from sluice import Sluice
from sluice.errors import SluiceError
from sluice.progress import WatchAborted, make_console

NAMESPACE, BUCKET, PIPELINE = "demo", "articles", "digest"
DAG = ("chunks", "normalized", "stats")
TOPICS = {
    "tech": "software data cloud network server code database api latency cache deploy cluster".split(),
    "science": "experiment physics biology molecule theory telescope genome climate particle lab".split(),
    "sports": "match team season goal league coach player score stadium tournament".split(),
    "food": "recipe kitchen flavour bread cheese harvest spice market dinner garden".split(),
}
FILLER = ("the a of and to in is was for on with as by at from that this it new its our their very more "
          "about after before during while every each people week year city report story plan").split()

JS_NORMALIZE = """function transform(d) {
  var text = String(d.text || '').replace(/\\s+/g, ' ').trim();
  if (text.length < 20) return null;             // drop slivers
  return {text: text.toLowerCase(), words: text.split(' ').length, chunk_index: d.chunk_index};
}"""
JS_DIGEST = """function transform(r) {
  return {sku: r.sku, title: r.title.toUpperCase(), topic: r.topic, words: r.body.split(/\\s+/).length};
}"""


def article(rng: random.Random, i: int) -> dict[str, Any]:
    """One generated article: a topic, a title and a body of 3-6 sentences mixing topic words."""
    topic = rng.choice(sorted(TOPICS))
    words = TOPICS[topic]
    sentences = []
    for _ in range(rng.randint(3, 6)):
        n = rng.randint(8, 16)
        sent = [rng.choice(words) if rng.random() < 0.35 else rng.choice(FILLER) for _ in range(n)]
        sentences.append(" ".join(sent).capitalize() + ".")
    return {"sku": f"art-{i:06d}", "topic": topic, "title": f"{rng.choice(words).title()} {rng.choice(words)} #{i}",
            "body": " ".join(sentences)}


def demo_spec() -> dict[str, Any]:
    """The demo's resources, applied like `sluice apply` would."""
    return {
        "namespace": NAMESPACE,
        "buckets": [{"bucket_name": BUCKET, "description": "generated articles (sluice demo)",
                     "schema": {"properties": {"sku": {"type": "string"}, "topic": {"type": "string"},
                                               "title": {"type": "text"}, "body": {"type": "text"}},
                                "required": ["sku"]},
                     "unique_key": {"fields": ["sku"]}}],
        "taxonomies": [{"taxonomy_name": "topics", "nodes": [
            {"node_id": t, "label": t.title(), "rule": {"keywords": words[:4], "keyword_fields": ["text"]}}
            for t, words in sorted(TOPICS.items())]}],
        "collections": [
            {"collection_name": "chunks", "description": "tier 0: 30-word chunks of each article",
             "source": {"type": "bucket", "bucket_id": BUCKET},
             "feature_extractors": [{"feature_extractor_name": "text_splitter",
                                     "parameters": {"unit": "words", "size": 30, "overlap": 5},
                                     "input_mapping": {"text": "body"}}]},
            {"collection_name": "normalized", "description": "tier 1: JavaScript clean-up, slivers dropped",
             "source": {"type": "collection", "collection_id": "chunks"},
             "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
                 "code": JS_NORMALIZE,
                 "output_fields": {"text": "string", "words": "integer", "chunk_index": "integer"}}}]},
            {"collection_name": "stats", "description": "tier 2: text statistics, labelled by topic",
             "source": {"type": "collection", "collection_id": "normalized"},
             "feature_extractors": [{"feature_extractor_name": "text_stats", "parameters": {"top_k": 3},
                                     "input_mapping": {"text": "text"}}],
             "taxonomy_applications": [{"taxonomy_id": "topics"}]},
            {"collection_name": "digest", "description": "written by the 'digest' pipeline",
             "source": {"type": "bucket", "bucket_id": BUCKET}},
        ],
        "connections": [{"name": "articles-src", "type": "bucket", "config": {"bucket_id": BUCKET}},
                        {"name": "digest-dst", "type": "collection", "config": {"collection_id": "digest"}}],
        "pipelines": [{"alias": PIPELINE, "code": JS_DIGEST,
                       "source": {"connection_id": "articles-src",
                                  "filters": {"AND": [{"field": "topic", "operator": "in",
                                                       "value": ["tech", "science"]}]}},
                       "destination": {"connection_id": "digest-dst"}}],
    }


def load_objects(client: Sluice, n: int, say: Callable[[str], None], batch: int = 1000,
                 seed: int = 7) -> float:
    """Write n generated articles in batches; return the seconds it took."""
    rng = random.Random(seed)
    started = time.monotonic()
    client.objects.upload(BUCKET, ({"data": article(rng, i)} for i in range(n)), batch_size=batch,
                          progress=lambda done, _total: say(f"  objects  {done}/{n}"))
    return time.monotonic() - started


def _seconds(start: Any, end: Any) -> float | None:
    try:
        return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None


def summary(system: Embedded, objects: int, load_s: float, batch: dict, run: dict, docs: dict[str, int],
            total_s: float) -> str:
    """The closing report: objects, documents per collection, batch throughput, pipeline steps, URLs."""
    secs = (batch.get("duration_ms") or 0) / 1000
    rate = objects / secs if secs else 0.0
    run_s = _seconds(run.get("startTime"), run.get("endTime"))
    lines = [
        "", f"Sluice demo finished in {total_s:.1f}s",
        f"  objects        {objects} in bucket '{BUCKET}' (namespace '{NAMESPACE}'), written in {load_s:.1f}s "
        f"({objects / load_s if load_s else 0:.0f} objects/s)",
        f"  batch          {batch['batch_id']} {batch['status']} in {secs:.1f}s over {batch.get('total_tiers')} "
        f"tiers: {rate:.0f} objects/s",
        "  documents      " + ", ".join(f"{name} {docs.get(name, 0)}" for name in (*DAG, "digest")),
        f"  pipeline       {run['id']} {run['status']}" + (f" in {run_s:.1f}s" if run_s is not None else ""),
    ]
    for step, passed, failed in zip(run.get("steps") or [], run.get("passed") or [], run.get("failed") or []):
        lines.append(f"    {step:<10} passed {passed:>6}  failed {failed:>4}")
    lines += [f"  API            {system.api_url}   (namespace '{NAMESPACE}')",
              f"  API key        {system.key}", f"  Admin key      {system.admin_key}"]
    if system.flower_url:
        lines.append(f"  Flower         {system.flower_url}")
    return "\n".join(lines)


def _demo(system: Embedded, objects: int, console: Console, started: float) -> int:
    def say(text: str) -> None:
        console.print(text, markup=False)

    system.wait_ready(90)
    say(f"API ready at {system.api_url} ({time.monotonic() - started:.1f}s)")
    admin = Sluice(system.admin_key, url=system.api_url, namespace=NAMESPACE)
    say("\nCreating resources (like `sluice apply`):")
    apply_spec(admin, demo_spec(), out=lambda line: say("  " + line))
    client = Sluice(system.key, url=system.api_url, namespace=NAMESPACE)
    say(f"\nWriting {objects} objects in batches of 1000:")
    load_s = load_objects(client, objects, say)
    say("\nTriggering the collection DAG chunks -> normalized -> stats:")
    trig = client.collections.trigger(DAG[0])
    say(f"  batch {trig['batch_id']} ({trig.get('total_tiers')} tiers, {trig.get('object_count')} objects)")
    batch = wait_batch(client, trig["batch_id"], console, alive=system.why_dead)
    code = batch_outcome(client, batch, console)
    say(f"\nRunning pipeline '{PIPELINE}' (articles -> digest, tech and science only):")
    pipe = next(p for p in client.pipelines.list() if p.get("alias") == PIPELINE)
    run_id = client.pipelines.run(pipe["pipeline_id"], incremental=False)["id"]
    run = wait_run(client, run_id, console, alive=system.why_dead)
    code = max(code, run_outcome(client, run, console), exit_code_for_status(run["status"]))
    docs = {name: client.collections.get(name).get("document_count", 0) for name in (*DAG, "digest")}
    say(summary(system, objects, load_s, batch, run, docs, time.monotonic() - started))
    return code


def run_demo(objects: int = 3000, keep: bool = False, port: int | None = None, concurrency: int = 2,
             console: Console | None = None) -> int:
    """Exit code: 0 when the batch and the run completed, 1 if either failed, 2/3 for API errors,
    130 on Ctrl-C before the end. Service logs are removed on success, kept otherwise."""
    console = console or make_console()
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="sluice-demo-"))
    console.print(f"Starting Sluice: MongoDB, Redis, API, worker, beat (logs in {log_dir}) ...", markup=False)
    code, finished = 1, False
    try:
        with embedded(port=port, concurrency=concurrency, flower=keep, log_dir=log_dir) as system:
            try:
                code = _demo(system, objects, console, started)
            except (SluiceError, WatchAborted, RuntimeError) as exc:
                text = format_error(exc) if isinstance(exc, SluiceError) else f"error: {exc}"
                console.print(text, markup=False)
                code = exit_code(exc) if isinstance(exc, SluiceError) else 1
                return code
            finished = True
            if keep:
                console.print(system.banner(), markup=False)
                console.print(f"  The demo's resources are in namespace '{NAMESPACE}': export SLUICE_NAMESPACE="
                              f"{NAMESPACE} too, then e.g. `sluice trigger {DAG[0]} --wait`", markup=False)
                while not system.dead():
                    time.sleep(0.5)
                console.print(f"process exited: {', '.join(system.dead())}; stopping", markup=False)
                code = max(code, 1)
    except KeyboardInterrupt:
        console.print("\nstopping...", markup=False)
        if not finished:
            code = 130
    finally:
        if code == 0:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            console.print(f"service logs are kept in {log_dir}", markup=False)
    return code
