"""Hybrid retrieval over the knowledge base: BM25 on words, characters and pinyin, dense vectors, fusion."""
