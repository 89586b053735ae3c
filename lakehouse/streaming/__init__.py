"""What the stream processors share of Quix Streams: the plumbing, never the data (that is the contract's)."""
