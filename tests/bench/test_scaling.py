"""`bench.scaling` judges CPU per message and memory flat from the fewest messages to the most,
at each client count."""

from __future__ import annotations

from bench.results import Measurement
from bench.scaling import Cell, render, verdicts


def cell(messages: int, clients: int, cpu_ms: float, rss_after: float) -> Cell:
    m = Measurement(
        "c",
        "c",
        messages,
        messages / 100,
        messages * 0.3,
        [0.01],
        process_cpu={"producer": cpu_ms * messages / 1000, "consumer": cpu_ms * messages / 2000},
        rss_mib={"producer": (90.0, rss_after), "consumer": (60.0, 61.0)},
    )
    return Cell(messages, clients, m)


def test_a_cost_that_grows_with_the_messages_is_a_miss() -> None:
    cells = [
        cell(1000, 8, cpu_ms=1.0, rss_after=95.0),
        cell(10_000, 8, cpu_ms=1.1, rss_after=100.0),  # flat enough: 1.10x CPU, 1.05x memory
        cell(1000, 32, cpu_ms=1.0, rss_after=95.0),
        cell(10_000, 32, cpu_ms=1.5, rss_after=140.0),  # grows: 1.50x CPU, 1.47x memory
    ]
    found = verdicts(cells)
    assert "  [met ] 8 clients: producer CPU/msg at 10,000 <= 1.2x at 1,000: 1.10x" in found
    assert "  [met ] 8 clients: producer memory after 10,000 <= 1.1x after 1,000: 1.05x" in found
    assert "  [MISS] 32 clients: producer CPU/msg at 10,000 <= 1.2x at 1,000: 1.50x" in found
    assert "  [MISS] 32 clients: producer memory after 10,000 <= 1.1x after 1,000: 1.47x" in found
    assert "  [met ] 32 clients: consumer memory after 10,000 <= 1.1x after 1,000: 1.00x" in found


def test_the_table_gives_each_cell_its_cpu_and_memory() -> None:
    row = render([cell(10_000, 128, cpu_ms=1.25, rss_after=97.4)]).splitlines()[1]
    assert row.split()[:9] == ["10,000", "128", "100", "0.300", "1.250", "0.625", "90", "->", "97"]
    assert row.endswith("60 -> 61")
