"""Storage backends: one module (or package) per service. Import them through :mod:`satchel.registry`."""
