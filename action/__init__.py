"""heatmeter's GitHub Action: times a platform task and reports it (standard library only)."""
