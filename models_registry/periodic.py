"""The model registry's recurring work (started by core's scheduler)."""

from core.periodic import Periodic
from models_registry import jobs

JOBS = [Periodic(jobs.sync_model_store, "default", "MODEL_SYNC_INTERVAL")]
