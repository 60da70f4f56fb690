"""Who may use the producer: API keys, the rate per caller, browser origins, page headers."""
