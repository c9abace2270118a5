"""Set-based writes to the warehouse: one module per table family."""
