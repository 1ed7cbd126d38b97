"""HTTP routes: thin adapters from requests to policy RPCs."""
