"""Error budgets of pipeline runs: within budget, failed records are skipped and recorded;
beyond it, the run stops FAILED saying so (its dead letters are kept)."""
from __future__ import annotations

from shared.stores import Stores

# A ratio judged on the first few records would stop runs on noise.
MIN_RECORDS_FOR_RATIO = 100


def budget_problem(max_failed: int | None, max_ratio: float | None, failed: int, read: int,
                   final: bool) -> str | None:
    """Why a run with `failed` of `read` records failed is over its budget (None: within it). The
    ratio is judged once MIN_RECORDS_FOR_RATIO records were read, or at the end of the run."""
    if max_failed is not None and failed > max_failed:
        return f"error budget exceeded: {failed} records failed, more than max_failed_records {max_failed}"
    if max_ratio is not None and read and (final or read >= MIN_RECORDS_FOR_RATIO) and failed / read > max_ratio:
        return (f"error budget exceeded: {failed} of {read} records failed ({failed / read:.1%}), more than "
                f"max_failed_ratio {max_ratio:g}")
    return None


def run_budget_problem(stores: Stores, run_id: str, pipeline: dict, final: bool = False) -> str | None:
    budget = pipeline.get("error_budget") or {}
    if budget.get("max_failed_records") is None and budget.get("max_failed_ratio") is None:
        return None
    totals = stores.runs.totals(run_id)
    return budget_problem(budget.get("max_failed_records"), budget.get("max_failed_ratio"),
                          sum(totals["failed"]), totals["passed"][0] + totals["failed"][0], final)
