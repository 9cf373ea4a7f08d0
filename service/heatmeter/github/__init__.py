"""heatmeter on GitHub's REST API: who it is there, and the one comment it keeps per PR."""
