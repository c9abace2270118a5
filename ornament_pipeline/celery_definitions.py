"""A second Dagster code location, for the `celery` extra: the same definitions as `ornament_pipeline.definitions`,
but each step of a run is a task that a Celery worker (`dagster-celery worker start -A dagster_celery.app`) runs.

Load it by module (`python_module: ornament_pipeline.celery_definitions`, or `-m`): a worker rebuilds the job from
that code pointer, which a file path on the webserver's machine would not give it. The broker and result backend
are `celery.broker_url` and `celery.backend_url` (env `ORNAMENTS_CELERY_BROKER`, `ORNAMENTS_CELERY_BACKEND`); the
workers' `-y` file must name the same broker, or they never see the steps. README "Steps on Celery workers"."""

import dagster as dg

from ornament_pipeline.config import get_settings
from ornament_pipeline.definitions import build_defs

try:
    from dagster_celery import celery_executor
except ImportError as exc:  # a plain install, without the extra
    if exc.name != "dagster_celery":
        raise
    raise ImportError("ornament_pipeline.celery_definitions needs the `celery` extra "
                      "(pip install 'ornament_pipeline[celery]'): no module dagster_celery", name=exc.name) from exc


def celery_step_executor() -> dg.ExecutorDefinition:
    """Dagster's Celery executor on the configured broker and backend (fixed here, not per run: a run config
    naming another broker would send its steps where no worker listens)."""
    celery = get_settings().celery
    return celery_executor.configured({"broker": celery.broker_url, "backend": celery.backend_url})


defs = build_defs(executor=celery_step_executor())
