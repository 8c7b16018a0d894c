"""LangGraph's ``langgraph.types`` names that streamflow provides, at the mirrored path.

Re-exports only: each name is the object of its home module (:mod:`streamflow.graph`); the README's
migration table lists what is not provided.
"""

from .graph.constants import Command as Command
from .graph.constants import Send as Send
from .graph.context import StreamWriter as StreamWriter
from .graph.interrupts import interrupt as interrupt
from .graph.output import GraphOutput as GraphOutput
from .graph.persistence import Durability as Durability
from .graph.persistence import PregelTask as PregelTask
from .graph.persistence import StateSnapshot as StateSnapshot
from .graph.persistence import StateUpdate as StateUpdate
from .interrupts import Interrupt as Interrupt

__all__ = [
    "Command",
    "Durability",
    "GraphOutput",
    "Interrupt",
    "PregelTask",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamWriter",
    "interrupt",
]
