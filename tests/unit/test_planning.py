from shared.engine.batch.planning import TierPlan, lineage_chain, plan_tiers, would_cycle


def col(cid, *sources, kind="collection"):
    if not sources:
        return {"_id": cid, "source": {"type": "bucket", "bucket_ids": ["b"]}}
    return {"_id": cid, "source": {"type": kind, "collection_ids": list(sources)}}


def test_linear_chain_is_one_tier_per_collection():
    cols = [col("a"), col("b", "a"), col("c", "b")]
    assert plan_tiers("a", cols) == [TierPlan(0, ("a",)), TierPlan(1, ("b",)), TierPlan(2, ("c",))]


def test_diamond_waits_for_the_deepest_source():
    # d reads from b and c; c reads from b; d must run after c
    cols = [col("a"), col("b", "a"), col("c", "b"), col("d", "b", "c"), col("x")]
    assert plan_tiers("a", cols) == [TierPlan(0, ("a",)), TierPlan(1, ("b",)),
                                     TierPlan(2, ("c",)), TierPlan(3, ("d",))]


def test_siblings_share_a_tier_and_unrelated_collections_are_left_out():
    cols = [col("a"), col("b", "a"), col("c", "a"), col("z")]
    assert plan_tiers("a", cols) == [TierPlan(0, ("a",)), TierPlan(1, ("b", "c"))]


def test_trigger_of_a_middle_collection_starts_there():
    cols = [col("a"), col("b", "a"), col("c", "b")]
    assert [t.collection_ids for t in plan_tiers("b", cols)] == [("b",), ("c",)]


def test_sources_outside_the_plan_do_not_push_tiers_down():
    cols = [col("a"), col("q"), col("r", "q"), col("b", "a", "r")]
    assert [t.collection_ids for t in plan_tiers("a", cols)] == [("a",), ("b",)]


def test_cycle_detection_and_lineage():
    cols = [col("a"), col("b", "a"), col("c", "b")]
    assert would_cycle("a", ["c"], cols)
    assert not would_cycle("new", ["c"], cols)
    assert lineage_chain("c", {c["_id"]: c for c in cols}) == ["a", "b", "c"]


def test_watchdog_decisions():
    from shared.engine.batch.batches import watchdog_action

    def batch(statuses, current, redispatches=0):
        return {"tiers": [{"status": s} for s in statuses], "total_tiers": len(statuses),
                "current_tier": current, "redispatches": redispatches}

    assert watchdog_action(batch(["PROCESSING", "PENDING"], 0)) == ("redispatch", 0)
    # callback closed tier 0 but died before launching tier 1
    assert watchdog_action(batch(["COMPLETED", "PENDING"], 0)) == ("launch", 1)
    assert watchdog_action(batch(["COMPLETED", "PENDING"], 1)) == ("launch", 1)
    assert watchdog_action(batch(["COMPLETED", "PROCESSING"], 1, redispatches=3)) == ("fail", None)
