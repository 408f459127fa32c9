"""Reading the model: attention heads step by step, the anatomy of the forward pass, embedding-space arithmetic."""
