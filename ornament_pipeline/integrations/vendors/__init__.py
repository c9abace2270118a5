"""The integration classes, one module per vendor."""
