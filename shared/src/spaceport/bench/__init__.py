"""`make bench` (`python -m spaceport.bench`): throughput of each layer next to its raw ceiling.

Every figure is printed beside a ceiling measured in the same run on the same servers (raw
nats-py JetStream publishes, raw asyncpg inserts), because absolute rates drift from run to run
on shared machines while the ratio does not.

The run is made of parts: modules `spaceport.bench.<part>` listed in `__main__.PARTS`. A part
exposes `TITLE: str` and `async def run(bench: Bench) -> list[Figure]` (see `harness`); a listed
part whose module does not exist yet is skipped. Each part's results also go to
`.data/bench/<part>.json` for comparison across runs.
"""
