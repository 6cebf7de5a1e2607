"""The policy engine: CCPA/CPRA rules as YAML data, compiled into vectorised batch decisions."""

from __future__ import annotations

from interceptor.policy.batch import (
    ActionCode,
    BatchDecision,
    BatchInput,
    FeatureEdit,
    ProxyReading,
    RuleHit,
)
from interceptor.policy.engine import CompiledPolicy
from interceptor.policy.errors import PolicyError
from interceptor.policy.explain import explain
from interceptor.policy.loader import PolicyBundle, load_bundle
from interceptor.policy.models import PolicyFile, Rule
from interceptor.policy.oneshot import apply_edits, batch_of_one
from interceptor.policy.plan import StaticVerdict
from interceptor.policy.testing import TestReport, run_policy_tests
from interceptor.policy.vocabulary import Vocabulary, check_manifest_vocabulary
from interceptor.policy.watcher import PolicyWatcher, ReloadOutcome

__all__ = [
    "ActionCode",
    "BatchDecision",
    "BatchInput",
    "CompiledPolicy",
    "FeatureEdit",
    "PolicyBundle",
    "PolicyError",
    "PolicyFile",
    "PolicyWatcher",
    "ProxyReading",
    "ReloadOutcome",
    "Rule",
    "RuleHit",
    "StaticVerdict",
    "TestReport",
    "Vocabulary",
    "apply_edits",
    "batch_of_one",
    "check_manifest_vocabulary",
    "explain",
    "load_bundle",
    "run_policy_tests",
]
