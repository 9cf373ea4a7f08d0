"""The action's reports: their schema, their authentication, their storage, their route."""
