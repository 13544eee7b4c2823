"""Secrets of connections and webhooks: the box that encrypts them at rest (box.py), what a
configuration's secret parts are and how they are masked in answers and scrubbed from
messages (masking.py), and sealing/opening a configuration's secret parts (sealing.py).
Stores and connectors both use these; this package depends on neither."""
