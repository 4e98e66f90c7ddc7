"""The geminio wire protocol, byte-compatible with the Go library."""
