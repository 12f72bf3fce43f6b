"""Closed forms and estimators, in plain torch (no Lightning): float64-testable."""
