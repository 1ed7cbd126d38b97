"""The gateway's HTTP tests use the suite's one `stack` (tests/conftest.py): what cannot
depend on the engine (the HTTP layer, the gateway's cache, the broker's behaviour) says
`@pytest.mark.databases("sqlite")`; what needs the real broker says
`@pytest.mark.transports("rabbit")`; an impatient gateway says
`@pytest.mark.ingest(rpc_timeout_s=IMPATIENT_RPC_TIMEOUT_S)`."""
