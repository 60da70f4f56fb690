"""The benchmark: naive SQS use, the raw batched optimum, this system end to end and
its HTTP ceiling, on the same endpoint in the same run. Run it as `python -m bench`.

A script, not a test: it starts its own endpoint, proxy and services on 127.0.0.1, measures,
prints a table, and stops everything it started.
"""
