"""Shipped extractors, one module each; the registry imports every module in this package."""
