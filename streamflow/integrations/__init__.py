"""Bridges to other libraries' components, so they publish on a streamflow run as streamflow's own do.

:mod:`streamflow.integrations.langchain`: langchain-core chat models, LLMs, tools, retrievers and Runnables
called inside a run.
"""

__all__: list[str] = []
