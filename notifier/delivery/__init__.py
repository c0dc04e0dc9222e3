"""Delivery: due outbox rows handed to the SMTP server over a pool of
connections (``deliver``), their sent marks group-committed (``marks``), each
failure classified once (``smtp``)."""
