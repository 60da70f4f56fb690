"""Status tracking: what each message went through (the store), the events read from the
consumers, the live feed's hub, queue depths and rates for the dashboard."""
