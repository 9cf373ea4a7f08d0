"""Finished GitHub Actions jobs: their steps as task runs, and their queue times."""
