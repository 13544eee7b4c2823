"""`sluice apply FILE`: create or update what a spec describes, idempotently, through the API.

Order: namespace, then resources in dependency order (see cli_spec.plan). Missing resources
are created; existing ones (by name, pipelines by alias) are compared with the spec and
updated when the API can change them in place (buckets: PATCH description/metadata/schema;
collections: PATCH description/metadata/enabled; connections: PATCH config; pipelines: PUT,
plus PUT …/schedule). A difference that cannot be applied in place (a collection's source or
extractors, a bucket's unique_key, a taxonomy's nodes) is reported, never forced."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sluice import Sluice
from sluice.errors import SluiceError
from cli.diff import diff_resource, pipeline_body
from cli.spec import ID_FIELD, ROUTE, Resource, load_spec, parse_spec, plan

ACTIONS = ("created", "updated", "unchanged")


@dataclass
class Outcome:
    kind: str
    name: str
    action: str                                   # created | updated | unchanged
    ident: str | None = None
    changed: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # differences left in place

    def line(self) -> str:
        extra = f"  ({', '.join(self.changed)})" if self.changed else ""
        return f"{self.action:<9} {self.kind:<10} {self.name}{extra}"

    def warning(self) -> str | None:
        if not self.fixed:
            return None
        verb = "differs" if len(self.fixed) == 1 else "differ"
        return (f"warning: {self.kind} '{self.name}': {', '.join(self.fixed)} {verb} from the spec and cannot be "
                f"changed in place; delete the {self.kind} and apply again to recreate it")


@dataclass
class ApplyResult:
    namespace: str | None
    outcomes: list[Outcome]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def ids(self, kind: str) -> dict[str, str]:
        return {o.name: o.ident for o in self.outcomes if o.kind == kind and o.ident}

    def summary(self) -> str:
        drift = sum(1 for o in self.outcomes if o.fixed)
        text = ", ".join(f"{self.count(a)} {a}" for a in ACTIONS)
        return f"apply: {text}" + (f", {drift} with differences left in place" if drift else "")


class Applier:
    def __init__(self, client: Sluice, out: Callable[[str], None] = print):
        self.client, self.out = client, out
        self.http = client.http  # apply is generic over routes: it speaks the SDK's transport
        self._ids: dict[tuple[str, str], str | None] = {}
        self._pipelines: dict[str, dict] | None = None

    # -- lookups -------------------------------------------------------------------------
    def resolve(self, kind: str, ref: str) -> str | None:
        """The id of a bucket/collection/connection/taxonomy given by id or name (None: absent)."""
        if (kind, ref) not in self._ids:
            found = self.http.find(f"{ROUTE[kind]}/{ref}")
            self._remember(kind, ref, found[ID_FIELD[kind]] if found else None)
        return self._ids[(kind, ref)]

    def _remember(self, kind: str, name: str, ident: str | None) -> None:
        self._ids[(kind, name)] = ident
        if ident:
            self._ids[(kind, ident)] = ident

    def _current(self, res: Resource) -> dict | None:
        if res.kind != "pipeline":
            found = self.http.find(f"{ROUTE[res.kind]}/{res.name}")
            self._remember(res.kind, res.name, found[ID_FIELD[res.kind]] if found else None)
            return found
        if self._pipelines is None:
            self._pipelines = {}
            for p in self.http.pages("GET", "/v1/pipelines", page_size=1000):
                self._pipelines.setdefault(p.get("alias") or "", p)
        return self._pipelines.get(res.name)

    # -- applying ------------------------------------------------------------------------
    def ensure_namespace(self, name: str) -> Outcome:
        if self.http.find(f"/v1/namespaces/{name}") is not None:
            return Outcome("namespace", name, "unchanged")
        try:
            made = self.http.post("/v1/namespaces", {"namespace_name": name})
        except SluiceError as err:
            if err.status == 403:
                err.message += f" (namespace '{name}' does not exist; creating it needs the admin key as --key)"
            raise
        return Outcome("namespace", name, "created", made.get("namespace_id"))

    def apply_one(self, res: Resource) -> Outcome:
        current = self._current(res)
        if current is None:
            return self._create(res)
        ident = current[ID_FIELD[res.kind]]
        diff = diff_resource(res, current, self.resolve)
        if diff.patch:
            method = self.http.put if res.kind == "pipeline" else self.http.patch
            method(f"{ROUTE[res.kind]}/{ident}", diff.patch)
        if diff.schedule[0]:
            self.http.put(f"/v1/pipelines/{ident}/schedule", {"period": diff.schedule[1]})
        return Outcome(res.kind, res.name, "updated" if diff.changed else "unchanged", ident, diff.changed,
                       diff.fixed)

    def _create(self, res: Resource) -> Outcome:
        body = pipeline_body(res.body, self.resolve) if res.kind == "pipeline" else res.body
        made = self.http.post(ROUTE[res.kind], body)
        ident = made[ID_FIELD[res.kind]]
        self._remember(res.kind, res.name, ident)
        if res.kind == "pipeline":
            if self._pipelines is not None:
                self._pipelines[res.name] = made
            if res.body.get("schedule") is not None:
                self.http.put(f"/v1/pipelines/{ident}/schedule", {"period": res.body["schedule"]})
        return Outcome(res.kind, res.name, "created", ident)

    def apply(self, namespace: str | None, resources: list[Resource]) -> ApplyResult:
        """Apply in dependency order, printing one line per resource as it is done. An API
        error stops the run (later resources may depend on the failed one) and propagates."""
        outcomes: list[Outcome] = []
        if namespace:
            outcomes.append(self._report(self.ensure_namespace(namespace)))
        for res in plan(resources):
            try:
                outcomes.append(self._report(self.apply_one(res)))
            except SluiceError as err:
                err.message = f"{res.kind} '{res.name}' ({res.path}): {err.message}"
                raise
        return ApplyResult(namespace, outcomes)

    def _report(self, outcome: Outcome) -> Outcome:
        self.out(outcome.line())
        warning = outcome.warning()
        if warning:
            self.out(warning)
        return outcome


def apply_spec(client: Sluice, spec: dict, out: Callable[[str], None] = print) -> ApplyResult:
    """Apply a parsed spec; the spec's `namespace` (if any) replaces the client's."""
    namespace, resources = parse_spec(spec)
    plan(resources)  # a cycle is a spec error: report it before touching anything
    if namespace:
        client = client.in_namespace(namespace)
    result = Applier(client, out).apply(namespace, resources)
    out(result.summary())
    return result


def apply_file(client: Sluice, path: str | Path, out: Callable[[str], None] = print) -> ApplyResult:
    return apply_spec(client, load_spec(path), out)
