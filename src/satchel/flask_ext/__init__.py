"""The pieces of :mod:`satchel.flask`, the keg-storage front door; import it from ``satchel.flask``."""
