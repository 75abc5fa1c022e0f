"""The training data pipeline: datasets, synthetic brains and training manifests."""
