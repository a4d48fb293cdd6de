"""Agent evals: scenarios run against a real Skyflo through its public API and WebSocket, graded by the cluster's
state and by safety checks on what really happened (`python -m evals --help`; see evals/README.md)."""
