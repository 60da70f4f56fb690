"""Making resources exist: the topics file, queues with their dead-letter queues, SNS
subscriptions, and everything bootstrap makes."""
