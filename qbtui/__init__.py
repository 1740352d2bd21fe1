"""qbtui: a terminal dashboard for training character LoRAs of your friends."""

__version__ = "0.1.0"
