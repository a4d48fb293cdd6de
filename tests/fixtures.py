"""Shared pytest fixtures: accounts and organisations (the scripted LLM lives in tests/scripted_llm.py)."""
