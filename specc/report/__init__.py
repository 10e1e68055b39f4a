"""Human and machine reports over a checked spec (no torch)."""
