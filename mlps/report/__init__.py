"""`mlps report`: results tables, submission files, the system description and the HTML page."""
