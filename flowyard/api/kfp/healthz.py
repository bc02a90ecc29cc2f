from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import flowyard

router = APIRouter(tags=["HealthzService"])


@router.get("/healthz", operation_id="HealthzService_GetHealthz")
def get_healthz() -> dict[str, Any]:
    return {"multi_user": False, "pipeline_store": "database", "tag_name": flowyard.__version__}
