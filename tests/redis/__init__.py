"""Tests of the Redis bridge, against the real local Redis at 127.0.0.1:6379."""
