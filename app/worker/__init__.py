"""The Storyreel shot worker for RunPod serverless.

``handler.handler(job)`` takes one shot job (DESIGN.md, "Shot worker"),
renders it with the backend named by ``STORYREEL_WORKER_BACKEND`` (``gpu``:
FLUX.1-schnell on CUDA, ``draft``: a Pillow panel), writes its provenance into
the PNG (``app.core.provenance``), uploads it to the requested bucket and key
with boto3, and returns where it is. Start it with
``python -u -m app.worker.handler`` (see packaging/worker/README.md).

Nothing here imports ``runpod`` at import time, so tests import the handler
without the runpod package; ``torch`` is imported only by the ``gpu`` backend.
"""
