"""heatmeter: HEAT metrics (happiness, efficiency, adoption, task success) for platform steps."""

__version__ = "0.1.0"
