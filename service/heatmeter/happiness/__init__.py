"""Happiness: `/heatmeter rate` comments on pull requests, read and stored as responses."""
