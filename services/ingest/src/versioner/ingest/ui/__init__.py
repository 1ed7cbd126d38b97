"""The dashboard: server-rendered pages under `/ui/`, their data from the same RPCs as the API."""
