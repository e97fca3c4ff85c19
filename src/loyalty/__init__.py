"""Customer-loyalty analytics warehouse."""

__version__ = "0.1.0"
