"""Stores: an embedded default (no server) and Elasticsearch, behind one interface."""
