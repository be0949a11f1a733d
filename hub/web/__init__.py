"""The hub's web pages: the operations centre's live wall and its live-data stream."""
