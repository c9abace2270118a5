"""ornament_pipeline: a faithful record of what three Hallmark ornament resellers list, and how it changes."""
