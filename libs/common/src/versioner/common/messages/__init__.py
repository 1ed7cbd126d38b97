"""Messages between the services: one pydantic model per message, next to its route."""
