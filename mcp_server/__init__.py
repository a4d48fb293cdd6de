"""Skyflo's Kubernetes MCP tool server: typed kubectl/helm tools over MCP (stdio or streamable HTTP).

This package imports nothing from the rest of the product.
"""
