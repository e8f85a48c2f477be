"""What a parser will see of a file: the head sample with documents cut and envelopes removed."""

from __future__ import annotations

from dataclasses import dataclass

from timeline.ingest.documents import detect_document, explode
from timeline.ingest.envelopes import inner_sample
from timeline.parserkit.api import Sample


@dataclass(frozen=True)
class View:
    """The sample a parser is chosen on, and the wrappers removed to get it."""

    sample: Sample
    document: str | None
    envelopes: tuple[str, ...]

    def wrappers(self) -> str:
        """`` in cloudwatch_export+cloudwatch envelope`` (empty when the file is not wrapped)."""
        names = ([self.document] if self.document else []) + list(self.envelopes)
        return f" in {'+'.join(names)} envelope" if names else ""


def parser_view(sample: Sample) -> View:
    """Cut a whole-document export into records, then unwrap per-line envelopes."""
    document = detect_document("\n".join(sample.lines))
    if document is not None:
        records = explode(sample.frame(), document).lines.get_column("line").to_list()
        sample = Sample(sample.name, tuple(records))
    inner, kinds = inner_sample(sample)
    return View(inner, document, kinds)
