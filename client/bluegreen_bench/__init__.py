"""`make bench`: measured speed and cost of the bundle (client-side; never in the layer).

Each measurement lives in its own module and returns rows for one table; `__main__`
prints the tables and can write them as Markdown. Benchmarks never assert a time: they
report figures and the targets they are read against.
"""
