"""The one error type that decoding wire data may raise."""


class ProtocolError(ValueError):
    """A topic or payload that does not follow the v1 wire contract."""
