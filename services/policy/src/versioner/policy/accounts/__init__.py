"""Users, API keys and sign-in."""
