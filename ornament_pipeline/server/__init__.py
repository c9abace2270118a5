"""The HTTP API and the collectors' web page."""
