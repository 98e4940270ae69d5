"""The running server: the app factory, settings, the services it holds open, logs, health, and
the HTTP plumbing every room shares (responses, forms, CSRF, JSON bodies)."""
