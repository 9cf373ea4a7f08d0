"""Tests of heatmeter's GitHub REST side, against a local fake of the API."""
