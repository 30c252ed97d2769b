"""A FastAPI blog whose endpoints call the domain's application services on a unit of
work: ``uvicorn adapters.http.app:app`` (``MONGODB_URI`` names the server)."""
