"""The live parts: the fake upstream and receivers, simulate, and the real servers of `up` and the e2e tests."""
