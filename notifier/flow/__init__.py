"""Digests, burst guard and reminders: the flow of mail a moderator can keep up with."""
