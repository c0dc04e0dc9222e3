"""What an operator watches: metrics, health, the HTTP endpoint and systemd's protocol.

Nothing in here changes what is sent.  The rest of the service reports events to
``notifier.ops.monitor`` with one-line hook calls; ``run`` serves them over HTTP
(``NOTIFIER_HTTP_ADDRESS``) and tells systemd when it is ready, stopping or alive.
"""
