"""Alembic revisions. HEAD names the newest, so start-up can skip Alembic when current."""

HEAD = "0003"
