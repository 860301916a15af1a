"""Embed: sentence vectors from the packaged all-MiniLM-L6-v2 (or any sentence-transformers model), run by torch or
by ONNX Runtime from a local export. `Embedder` and `load_embedder` are in qa.embed.embedder."""
