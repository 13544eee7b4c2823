"""Code shared by the API and the workers. Imports neither Flask nor Celery."""
