"""The platform team's surfaces: the scorecard page, its JSON twins, /v1/summary, the report."""
