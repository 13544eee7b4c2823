"""Celery workers: the app, thin tasks and canvas building. Never imports Flask or api/."""
