"""The send path: targets (the queue, each topic), senders that coalesce concurrent requests
into batch calls, and the publishers of the declared topics."""
