"""tradebus strategy client: the library strategies and research code import."""

__version__ = "0.1.0"
