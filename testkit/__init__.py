"""What the tests and the benchmarks share (lanes of their own on the real stack, fleets, faults, checkers,
a browser, hostile messages), so that neither imports the other. The product never imports it."""
