"""heatmeter on GitHub's REST API: who it is there, and the one client every call goes through."""

from .. import __version__

# One name on every request to GitHub, whichever module makes it.
USER_AGENT = f"heatmeter/{__version__}"
