"""FastAPI dependencies: the application context and the dialogue engine, from ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.context import AppContext
from assistant.dialogue.engine import DialogueEngine


# async: FastAPI runs a plain ``def`` dependency in the thread pool, a thread hop per request for an
# attribute read.
async def get_context(request: Request) -> AppContext:
    return request.app.state.context


async def get_engine(request: Request) -> DialogueEngine:
    return request.app.state.engine


ContextDep = Annotated[AppContext, Depends(get_context)]
EngineDep = Annotated[DialogueEngine, Depends(get_engine)]
