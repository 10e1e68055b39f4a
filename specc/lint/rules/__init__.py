"""Every lint rule, one per module."""
