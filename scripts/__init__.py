"""Developer commands: the local run (`make run`), the layout of docs/architecture.md, and the
supervision of child processes that the local run, the benchmark and the tests share."""
