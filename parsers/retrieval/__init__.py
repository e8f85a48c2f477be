"""Built-in retrieval-layer parsers."""

from __future__ import annotations

from parsers.retrieval.elasticsearch_slowlog import ElasticsearchSlowlogParser
from parsers.retrieval.milvus import MilvusParser
from parsers.retrieval.qdrant import QdrantParser
from timeline.parse.api import Parser


def parsers() -> list[tuple[Parser, str]]:
    """The retrieval parsers with their origins."""
    return [
        (ElasticsearchSlowlogParser(), "built-in parsers/retrieval/elasticsearch_slowlog.py"),
        (QdrantParser(), "built-in parsers/retrieval/qdrant.py"),
        (MilvusParser(), "built-in parsers/retrieval/milvus.py"),
    ]
