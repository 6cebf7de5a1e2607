"""The only Kafka code: the consume/produce loop, the commit protocol and the state topics."""

from interceptor.stream.admin import (
    BrokerUnavailableError,
    TopicSpec,
    ensure_topics,
    planned_topics,
    wait_until_ready,
)
from interceptor.stream.commits import CommitTracker
from interceptor.stream.progress import RunnerProgress
from interceptor.stream.runner import Runner, RunnerError
from interceptor.stream.settle import SettleError, Settler
from interceptor.stream.state import StateLoadTimeoutError, StateTopicReader

__all__ = [
    "BrokerUnavailableError",
    "CommitTracker",
    "Runner",
    "RunnerError",
    "RunnerProgress",
    "SettleError",
    "Settler",
    "StateLoadTimeoutError",
    "StateTopicReader",
    "TopicSpec",
    "ensure_topics",
    "planned_topics",
    "wait_until_ready",
]
