"""The library the producer and the consumer share, in layers, each importing only those below it.

- `shared.aws`: AWS calls: building clients, one error family, SQS queues, SNS topics,
  batch calls entry by entry. It knows bodies and attributes, not envelopes.
- `shared.messages`: what travels: the envelope and its wire format, status events, the
  dead-letter record.
- `shared.topology`: making resources exist: the topics file, queues, subscriptions.
- `shared.ops`: operating them: dead-letter queue counts, peeks, redrives, purges.

`settings` and `logging` sit beside them; `bootstrap` and `admin` are the two commands.
Importing this package loads nothing: import what you need from its layers.
"""
