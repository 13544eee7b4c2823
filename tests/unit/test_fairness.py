"""The pure scheduling decisions: who goes next given shares, priorities, caps and waiting time."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from shared.engine.fairness import (PARK, REQUEUE, RUN, Job, Namespace, decide, effective_level, next_job)

AGING = 30.0


def test_a_small_batch_of_another_namespace_goes_before_more_of_the_large_one():
    a = Job("a", "ns_a", waiting=400, running=2, idle_since=0)
    b = Job("b", "ns_b", waiting=5, running=0, idle_since=10)
    ns = {"ns_a": Namespace(running=2), "ns_b": Namespace()}
    assert decide(a, [a, b], ns, now=11, aging_s=AGING) == REQUEUE
    assert decide(b, [a, b], ns, now=11, aging_s=AGING) == RUN
    assert next_job([a, b], ns, now=11, aging_s=AGING) == b


def test_equal_shares_run_without_bouncing():
    a = Job("a", "ns_a", waiting=10, running=1)
    b = Job("b", "ns_b", waiting=10, running=1)
    ns = {"ns_a": Namespace(1), "ns_b": Namespace(1)}
    assert decide(a, [a, b], ns, now=0, aging_s=AGING) == RUN
    assert decide(b, [a, b], ns, now=0, aging_s=AGING) == RUN


def test_namespaces_share_first_then_the_jobs_of_one_namespace():
    a1 = Job("a1", "ns_a", waiting=9, running=1)
    a2 = Job("a2", "ns_a", waiting=9, running=0)
    b = Job("b", "ns_b", waiting=9, running=1)
    ns = {"ns_a": Namespace(1), "ns_b": Namespace(1)}
    # ns_a and ns_b hold one slot each; inside ns_a, a2 (nothing running) is owed the next one
    assert decide(a1, [a1, a2, b], ns, now=0, aging_s=AGING) == REQUEUE
    assert decide(a2, [a1, a2, b], ns, now=0, aging_s=AGING) == RUN
    ns = {"ns_a": Namespace(2), "ns_b": Namespace(1)}
    assert decide(a2, [a1, a2, b], ns, now=0, aging_s=AGING) == REQUEUE


def test_higher_priority_goes_first_and_waiting_lifts_lower_priority():
    low = Job("low", "ns_a", "low", waiting=9, running=0, idle_since=0)
    high = Job("high", "ns_b", "high", waiting=9, running=3, idle_since=0)
    ns = {"ns_a": Namespace(0), "ns_b": Namespace(3)}
    assert decide(low, [low, high], ns, now=1, aging_s=AGING) == REQUEUE
    assert effective_level(low, now=AGING, aging_s=AGING) == 1
    assert effective_level(low, now=2 * AGING + 1, aging_s=AGING) == 2
    # after two aging periods without a start, low ranks with high and, holding less, wins
    assert decide(low, [low, high], ns, now=2 * AGING + 1, aging_s=AGING) == RUN


def test_paused_jobs_and_full_namespaces_park_and_never_block_others():
    paused = Job("p", "ns_a", waiting=9, paused=True)
    capped = Job("c", "ns_c", waiting=9)
    other = Job("o", "ns_b", waiting=9, running=5)
    ns = {"ns_a": Namespace(), "ns_b": Namespace(5), "ns_c": Namespace(1, max_concurrent_chunks=1)}
    assert decide(paused, [paused, other], ns, now=0, aging_s=AGING) == PARK
    assert decide(capped, [capped, other], ns, now=0, aging_s=AGING) == PARK
    assert decide(other, [paused, capped, other], ns, now=0, aging_s=AGING) == RUN


def test_fifo_mode_and_the_requeue_bound_always_run():
    a = Job("a", "ns_a", waiting=9, running=4)
    b = Job("b", "ns_b", waiting=9)
    ns = {"ns_a": Namespace(4), "ns_b": Namespace()}
    assert decide(a, [a, b], ns, now=0, aging_s=AGING, mode="fifo") == RUN
    assert decide(a, [a, b], ns, now=0, aging_s=AGING, requeues=50, max_requeues=50) == RUN


jobs_st = st.lists(st.tuples(st.sampled_from(["ns_a", "ns_b", "ns_c"]), st.sampled_from(["low", "normal", "high"]),
                             st.integers(1, 30), st.integers(0, 40)), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(jobs_st, st.integers(1, 6))
def test_no_waiting_job_starves(specs, slots):
    """A pool of `slots` slots, each chunk taking one time unit; jobs arrive over time with
    any priorities. Every job that has waiting chunks starts one within a bounded time."""
    jobs = {f"j{i}": Job(f"j{i}", ns, prio, waiting=n, idle_since=float(t))
            for i, (ns, prio, n, t) in enumerate(specs)}
    arrival = {j.job_id: j.idle_since for j in jobs.values()}
    aging = 5.0
    # bound: two aging steps to reach the top level, then a round over every job
    bound = 2 * aging + len(jobs) + 2
    running: list[tuple[float, str]] = []          # (ends at, job id)
    now, waited_since = 0.0, {}
    for _ in range(5000):
        if not any(j.waiting for j in jobs.values()):
            break
        for end, jid in [r for r in running if r[0] <= now]:
            running.remove((end, jid))
            j = jobs[jid]
            jobs[jid] = Job(j.job_id, j.namespace_id, j.priority, j.waiting, j.running - 1, j.idle_since)
        present = {k: v for k, v in jobs.items() if arrival[k] <= now}
        for jid, j in present.items():
            if j.waiting:
                waited_since.setdefault(jid, now)
        while len(running) < slots:
            ns_running: dict[str, int] = {}
            for j in present.values():
                ns_running[j.namespace_id] = ns_running.get(j.namespace_id, 0) + j.running
            nxt = next_job(present.values(), {k: Namespace(v) for k, v in ns_running.items()}, now, aging)
            if nxt is None:
                break
            assert now - waited_since.pop(nxt.job_id, now) <= bound, (nxt, now)
            jobs[nxt.job_id] = present[nxt.job_id] = Job(nxt.job_id, nxt.namespace_id, nxt.priority,
                                                         nxt.waiting - 1, nxt.running + 1, now)
            running.append((now + 1.0, nxt.job_id))
        for jid, j in present.items():
            if j.waiting and jid in waited_since:
                assert now - waited_since[jid] <= bound, (jid, now, jobs)
        now += 1.0
    assert not any(j.waiting for j in jobs.values())


def test_each_active_namespace_gets_a_lane_of_its_own_while_lanes_last():
    from shared.engine.admission import pick_lane

    assert pick_lane(None, [], 8) == 0
    assert pick_lane(None, [0, 1], 8) == 2
    assert pick_lane(3, [0, 1], 8) == 3          # sticky
    assert pick_lane(1, [0, 1], 8) == 2          # another active namespace took it
    assert pick_lane(None, list(range(8)), 8) == 0  # all taken: share the least used
    assert pick_lane(5, [], 1) == 0
