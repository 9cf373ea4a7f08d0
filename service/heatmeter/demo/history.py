"""The demo's synthetic history: pure generation of task runs, installations and ratings."""

from __future__ import annotations

# Every demo repository lives under this owner, so demo rows are told apart from real
# ones (and removed or refused) by name alone; GitHub has no such organisation of ours.
DEMO_ORG = "heatmeter-demo"
