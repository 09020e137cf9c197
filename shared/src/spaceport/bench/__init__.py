"""`make bench` (`python -m spaceport.bench`): throughput of each layer next to its raw ceiling.

Every figure is printed beside a ceiling measured in the same run on the same servers (raw
nats-py JetStream publishes and consumes, raw asyncpg COPY, a raw S3 put, a bare granian app),
because absolute rates drift from run to run on shared machines while the ratio does not.

The run is made of parts: modules `spaceport.bench.<part>` listed in `__main__.PARTS`. A part
exposes `TITLE: str` and `async def run(bench: Bench) -> list[Figure]` (see `harness`); a listed
part whose module does not exist yet is skipped. The parts share one set of servers (`harness.
servers`) and one platform (`stack`, started by the first part that needs it, its processes'
RSS sampled until the end). The run writes bench/results.json (`report`: every figure, its
ceiling and ratio, p50/p99, the machine, and issue 12's scenarios) and prints one table; each
part's figures also go to `.data/bench/<part>.json`. `make bench-quick` (`--quick`) is the same
with small sizes.
"""
