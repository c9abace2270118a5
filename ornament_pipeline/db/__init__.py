"""The warehouse: connections, the embedded fallback server, schema migrations."""
