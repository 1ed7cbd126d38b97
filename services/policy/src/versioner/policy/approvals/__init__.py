"""Version sign-offs."""
