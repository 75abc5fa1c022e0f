"""Training: the U-Net and unrolled recipes, distributed data parallel, the lecture study."""
