"""The edges: the HTTP app, the notification worker and the command line."""
