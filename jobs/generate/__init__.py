"""The event simulator: a seeded, vectorised model of a streaming service's viewing.

    from slatehouse.generate import generate, FaultRates
    result = generate(Path("var/landing"), start_date=date(2026, 3, 1), days=7,
                      members=2000, titles=300, seed=7)

    sim = simulate(start_date=date(2026, 3, 1), days=7, members=2000, titles=300, seed=7)
    # the same world in memory, without faults or files; slatehouse.generate.truth
    # turns it into the forecast's training rows

See docs/simulator.md for the model, and docs/event-contract.md for the files it writes.
"""

from slatehouse.generate.config import FaultRates
from slatehouse.generate.faults import MALFORMED_KINDS
from slatehouse.generate.run import GenerateResult, Simulation, generate, simulate

__all__ = ["FaultRates", "GenerateResult", "MALFORMED_KINDS", "Simulation", "generate", "simulate"]
