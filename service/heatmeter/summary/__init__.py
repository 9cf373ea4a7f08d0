"""Pull-request summary: pure metrics from task runs, and the Markdown comment they become."""
