"""An LCEL chain, prompt | model | parser, streamed three ways: its tokens with stream(), the parsed JSON
growing with astream(), and its steps with astream_events(version="v2").

Prints the text chunks, then each partial JSON object, then one line per event: its name, the Runnable's
name and its tags.
"""

import asyncio

from streamflow.models import FakeChatModel
from streamflow.output_parsers import JsonOutputParser, StrOutputParser
from streamflow.prompts import ChatPromptTemplate

prompt = ChatPromptTemplate.from_messages([("system", "You answer in {style}."), ("human", "{question}")])
text_chain = prompt | FakeChatModel(["Parrots talk."], chunk_size=5) | StrOutputParser()
json_chain = prompt | FakeChatModel(['{"animal": "parrot", "talks": true}'], chunk_size=12) | JsonOutputParser()

question = {"style": "one line", "question": "Why do parrots talk?"}

print(list(text_chain.stream(question)))


async def main() -> None:
    async for partial in json_chain.astream(question):
        print(partial)
    async for event in text_chain.astream_events(question, version="v2"):
        if event["event"].endswith(("_start", "_end")):
            print(event["event"], event["name"], event["tags"])


asyncio.run(main())
