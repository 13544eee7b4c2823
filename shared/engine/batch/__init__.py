"""Batches: trigger → tier plan → one chord per tier → chunks → documents."""
