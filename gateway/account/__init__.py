"""The person's own pages and APIs."""
