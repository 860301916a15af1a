"""Ingest: read a folder of articles (scan, read, clean) and cut them into chunks with exact offsets."""
