"""Index: the vectors, chunks and BM25 tokens on disk (segments and a manifest), built incrementally and loaded back."""
