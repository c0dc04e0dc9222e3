"""``notifier demo`` and what it needs: sample comments (``demo_data.json``,
``samples``), an in-process SMTP sink (``sink``, also the tests' and bench's
recording server) and the run itself (``run``)."""
