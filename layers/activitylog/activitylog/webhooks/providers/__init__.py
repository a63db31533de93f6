"""The register of webhook providers: one line per provider module.

A provider is one module beside this one (``stripe``, ``square``, ``fedex``) defining a
``Provider`` (``base``) named ``provider``: its signature check, its event identity, what its
entries show, how it signs and what its events look like. Adding one is that module and its
line below (README, "Adding a provider"). ``WEBHOOK_PROVIDER_MODULES`` (comma-separated module
paths, importable where the function runs) adds providers kept outside this package.

>>> sorted(PROVIDERS)
['fedex', 'square', 'stripe']
>>> PROVIDERS["stripe"].display
'Stripe'
"""

from __future__ import annotations

import importlib

from activitylog.config import Settings
from activitylog.webhooks.providers.base import Delivery, Identity, Provider, Rejected

__all__ = ["PROVIDERS", "SIGNATURE_HEADERS", "Delivery", "Identity", "Provider", "Rejected", "registered"]

MODULES = (
    "activitylog.webhooks.providers.stripe",
    "activitylog.webhooks.providers.square",
    "activitylog.webhooks.providers.fedex",
)


def registered(modules: tuple[str, ...] | list[str]) -> dict[str, Provider]:
    """The providers the modules define, by name (a name given twice is a mistake, not an override)."""
    providers: dict[str, Provider] = {}
    for path in modules:
        provider = importlib.import_module(path).provider
        if provider.name in providers:
            raise ValueError(f"two webhook providers named {provider.name!r} ({path})")
        providers[provider.name] = provider
    return providers


PROVIDERS: dict[str, Provider] = registered([*MODULES, *Settings.from_environ().webhook_provider_modules])
# Every provider's signature headers: erased from what an entry keeps of a delivery (``mapping.redacted_request``).
SIGNATURE_HEADERS = frozenset(header for provider in PROVIDERS.values() for header in provider.secret_headers)
