"""The Spark engine: the same parse and correlate stages as the local engine, run as Spark tasks.

``pip install 'ai-timeline[spark]'`` (pyspark and a Java runtime); nothing else in the package
imports this one except the command line, so the core install needs neither. See
``docs/scale-out.md`` and :mod:`timeline.spark.engine`.
"""
