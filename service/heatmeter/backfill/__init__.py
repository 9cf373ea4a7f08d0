"""`heatmeter backfill`: past workflow runs' job steps and queue times, read with PyGithub."""
