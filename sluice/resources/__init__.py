"""The resource groups of `Sluice`: one class per part of the API."""
