"""Load scenarios and the side-by-side comparison with a peer (not part of the package)."""
