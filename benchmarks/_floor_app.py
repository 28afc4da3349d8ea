"""The framework floor: a bare FastAPI app whose one endpoint returns a constant."""
from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/assessments")
async def constant() -> dict:
    return {"decision": "release", "lane": "green"}
