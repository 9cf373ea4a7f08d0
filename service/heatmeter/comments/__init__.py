"""The PR summary comment: its outbox in Postgres, the data it shows, the worker that writes it."""
