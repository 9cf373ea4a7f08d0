"""One leased outbox: what heatmeter owes GitHub (and the outside), kept in Postgres until done.

``queue`` is the table, ``worker`` performs it, ``kind`` says what a kind of item is, and
``registry`` lists the kinds (``comment``, ``reaction``, ``reply``, …). docs/outbox.md
tells how to add one.
"""
