"""`python -m ornament_pipeline.replica serve ...` (same as `ornaments replica ...`)."""

from ornament_pipeline.replica.cli import app

app(prog_name="ornaments replica")
