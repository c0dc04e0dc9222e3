"""From a comment to email bytes: who hears about it (``route``), the text from
templates (``render``), the headers and MIME (``compose``), and addresses made
safe for headers (``addresses``)."""
