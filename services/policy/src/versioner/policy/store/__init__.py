"""Policy's infrastructure: the database and its tables and migrations, the outbox, the event log,
the policy revision, paging, the clock, deadlines and the broker topology.
"""
