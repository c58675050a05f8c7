"""curate: ImageNet label sets computed from the WordNet 3.0 noun hierarchy."""

__version__ = "0.1.0"
