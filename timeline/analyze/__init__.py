"""Analysis of a built timeline for the postmortem appendix.

One module per section: ``load`` (the OUTDIR), ``scope`` (window), ``failing`` (which requests
fail), ``features`` (per-request attribute values), ``changes`` (what changed), ``outcomes``
(per-minute series), ``rise`` (when failures rose), ``suspects`` (over-represented values),
``exemplars`` (request chains), ``quality`` (data quality and reproduce), ``slices`` (prompt,
retrieval, model, policy) and ``appendix`` (all of it as one JSON-ready document).
It lays out evidence; it never assigns blame.
"""
