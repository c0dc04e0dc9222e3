"""The poll stage: what is new in the comment store (``detect``), comments put
back on hold (``holds``), and one poll that triages, routes, renders and
enqueues it with the cursor (``poller``)."""
