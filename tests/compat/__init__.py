"""The differential suite: the same graph code run on LangGraph and on streamflow, chunks compared."""
