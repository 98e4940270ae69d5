"""One module per protocol endpoint."""
