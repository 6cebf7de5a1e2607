"""Streaming feature-engineering interceptor: CCPA/CPRA policy and proxy checks between feature
pipelines and the ad-targeting feature store."""

__version__ = "0.1.0"

__all__ = ["__version__"]
