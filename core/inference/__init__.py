"""From logits to tokens: the sampling pipeline (small pure functions) and generation with a KV cache."""
