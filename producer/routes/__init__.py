"""The HTTP routes, one module per resource: each validates, calls the send path or the
status store, and answers."""
