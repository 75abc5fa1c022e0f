"""Networks and their files: the U-Net, the unrolled network, data consistency, checkpoints."""
