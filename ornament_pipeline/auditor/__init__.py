"""The auditor: the change stream read by cursor, watches, alerts and their delivery."""
