"""`heatmeter demo`: a labelled synthetic history, so a new install has something to show."""
