"""The reference service's adapters: its Documents and registry (``adapters.registry``),
its FastAPI app (``adapters.http``) and its demo (``python -m adapters.demo``)."""
