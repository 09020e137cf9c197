"""Messages that cross service boundaries: events, commands, queries and their replies."""
