"""`make bench`'s sizes: the default compares 10,000 with 1,000,000 appointments, ``--size 10m`` compares
1,000,000 with 10,000,000 over 1,000 locations and keeps its table apart from the default one."""

from bench.run import RESULTS, options


def test_the_default_run_compares_ten_thousand_with_a_million_appointments():
    settings = options([])

    assert [(size.label, size.appointments, size.locations) for size in settings.sizes] == [
        ("10k", 10_000, 5), ("1m", 1_000_000, 5)]
    assert settings.results == RESULTS / "latest.json"


def test_size_10m_compares_a_million_with_ten_million_over_a_thousand_locations():
    settings = options(["--size", "10m"])

    assert [(size.label, size.appointments, size.locations) for size in settings.sizes] == [
        ("1m", 1_000_000, 5), ("10m", 10_000_000, 1_000)]
    # The databases are named by size, so the million one is the default run's, reused, not made again.
    assert settings.prefix == "ionto_bench"
    assert settings.results == RESULTS / "latest-10m.json"
