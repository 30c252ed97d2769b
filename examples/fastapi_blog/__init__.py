"""A FastAPI blog whose endpoints call the domain's application services on a unit of
work: ``uvicorn examples.fastapi_blog.app:app`` (``MONGODB_URI`` names the server)."""
