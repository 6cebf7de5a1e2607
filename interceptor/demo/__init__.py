"""The one-machine demo: synthetic traffic with planted violations through the real stream."""

from interceptor.demo.synthetic import Population, SyntheticTraffic

__all__ = ["Population", "SyntheticTraffic"]
