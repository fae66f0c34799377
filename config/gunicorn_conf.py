"""gunicorn settings of the image and of ``manage.py runstack`` (``--config config/gunicorn_conf.py``).

Request metrics (``core/metrics.py``) are counted in each worker process; prometheus-client's
multiprocess mode keeps them in files under ``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics``,
whichever worker answers it, adds up all of them. Without the variable a fresh directory under
the temporary directory is used (``/tmp`` is writable in the pods; the root is not). The
directory is emptied when the server starts, so counts of a previous server never linger, and
a worker that exits has its live gauges dropped.

Imported by gunicorn's master before any worker imports the app: no Django here. With
``LOG_FORMAT=json`` gunicorn's own lines, the access log included, are JSON too
(``config/gunicorn_logging.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from config.gunicorn_logging import logconfig_dict as _logconfig_dict

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
_made_here = not _metrics_dir
if _made_here:
    _metrics_dir = tempfile.mkdtemp(prefix="dashboard-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir  # inherited by the workers


# JSON lines like the app's when LOG_FORMAT=json (the image's default); gunicorn's own otherwise.
_json_logging = _logconfig_dict(os.environ.get("LOG_FORMAT", "plain"), "INFO")
if _json_logging is not None:
    logconfig_dict = _json_logging


def on_starting(server: Any) -> None:
    path = Path(_metrics_dir)
    if path.exists():
        for entry in path.iterdir():
            if entry.suffix == ".db":
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    # Imported here, not above: prometheus-client picks its mode when first imported, and the
    # workers forked from this process must see the variable set above.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server: Any) -> None:
    if _made_here:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
