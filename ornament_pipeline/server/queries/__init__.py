"""SQL of the HTTP API, one module per table family; bound parameters only."""
