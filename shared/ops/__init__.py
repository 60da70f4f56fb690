"""Operating the queues: dead-letter counts, peeks, redrives and purges, for the `sqs-admin`
command and the producer's admin endpoints."""
