"""Service and Edge SDKs: what applications import."""
