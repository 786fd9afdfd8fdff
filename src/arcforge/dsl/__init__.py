"""Classic program search over grid transforms."""
