"""Search: a question read once (query), dense and BM25 candidates fused, re-scored by a second stage (rerank)."""
